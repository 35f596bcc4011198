"""Readable terminal tables of a negotiation's state, for ``parley state``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from projections.state import State

Body = Mapping[str, Any]
Rows = tuple[str, list[str], list[list[str]]]
"""A table: its title, its columns, and its rows."""


def _actor(value: Any) -> str:
    if not value:
        return "—"
    name, country = value.get("name"), value.get("country")
    return f"{name} ({country})" if name and country else name or country or "?"


def _place(value: Any) -> str:
    if not value:
        return "—"
    parts = [value.get("city"), value.get("region") or value.get("country")]
    return ", ".join(p for p in parts if p)


def print_state(console: Console, state: State | Mapping[str, Any]) -> None:
    """Print the state (or its JSON, as a server answered) as a heading and one table per
    kind of item."""
    body = state.to_json() if isinstance(state, State) else state
    _print_heading(console, body)
    for table in TABLES:
        _print_table(console, *table(body))


def _print_heading(console: Console, body: Body) -> None:
    console.print(
        f"[bold]{body['title'] or body['negotiation']}[/bold]  as of {body['as_of']}, "
        f"known at {body['known_at']}  (position {body['position']}, "
        f"{body['event_count']} events)"
    )
    parties = ", ".join(_actor(p) for p in body["parties"]) or "—"
    console.print(
        f"parties: {parties}; mediators: {', '.join(_actor(m) for m in body['mediators']) or '—'}"
    )


def _print_table(console: Console, title: str, columns: list[str], rows: list[list[str]]) -> None:
    if not rows:
        return
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _rounds(body: Body) -> Rows:
    return (
        "Rounds",
        ["round", "status", "starts", "place", "host"],
        [
            [
                str(r["round"]),
                r["status"],
                str(r["starts_at"] or "—"),
                _place(r["place"]),
                _actor(r["host"]),
            ]
            for r in body["rounds"]
        ],
    )


def _proposals(body: Body) -> Rows:
    return (
        "Proposals",
        ["id", "proposer", "to", "subject", "status"],
        [
            [
                p["proposal_id"],
                _actor(p["proposer"]),
                ", ".join(_actor(a) for a in p.get("addressees") or [p.get("addressee")]),
                p["subject"],
                p["status"],
            ]
            for p in body["proposals"]
        ],
    )


def _security_zones(body: Body) -> Rows:
    return (
        "Security zones",
        ["declared by", "regions", "status", "declared"],
        [
            [_actor(z["declared_by"]), ", ".join(z["regions"]), z["status"], str(z["declared_at"])]
            for z in body["security_zones"]
        ],
    )


def _ceasefires(body: Body) -> Rows:
    return (
        "Ceasefires",
        ["status", "by", "scope", "in force", "alleged violations"],
        [
            [
                c.get("status", "?"),
                ", ".join(_actor(a) for a in c.get("parties") or [c.get("proposer")]),
                ", ".join(c.get("scope") or []) or "—",
                _in_force(c),
                str(len(c.get("allegations") or [])),
            ]
            for c in body["ceasefires"]
        ],
    )


def _in_force(item: Body) -> str:
    if item.get("in_force"):
        return "yes"
    reason = item.get("not_in_force")
    return f"no ({reason.replace('_', ' ')})" if reason else "no"


def _agreements(body: Body) -> Rows:
    def provisions(a: Body) -> str:
        done = sum(1 for p in a["provisions"] if p["implemented"])
        return f"{done} of {len(a['provisions'])} acted on" if a["provisions"] else "—"

    return (
        "Agreements",
        ["agreement", "kind", "status", "in force", "parties", "provisions"],
        [
            [
                a["title"],
                a["kind"].replace("_", " "),
                a["status"],
                "yes" if a["in_force"] else "no",
                ", ".join(_actor(p) for p in a["parties"]) or "—",
                provisions(a),
            ]
            for a in body.get("agreements", [])
        ],
    )


def _allegations(body: Body) -> Rows:
    def violated(a: Body) -> str:
        named = [a.get("agreement_id"), a.get("ceasefire") and f"ceasefire {a['ceasefire'][:8]}"]
        return ", ".join(n for n in named if n) or "—"

    return (
        "Alleged violations",
        ["when", "accuser", "accused", "of", "disputed by"],
        [
            [
                str(a["occurred_at"]),
                _actor(a["accuser"]),
                ", ".join(_actor(x) for x in a["accused"]),
                violated(a),
                ", ".join(_actor(d["disputed_by"]) for d in a["disputes"]) or "—",
            ]
            for a in body.get("allegations", [])
        ],
    )


def _hostilities(body: Body) -> Rows:
    return (
        "Hostilities reported",
        ["when", "kind", "parties", "regions"],
        [
            [
                str(h["occurred_at"]),
                h["kind"].replace("_", " "),
                ", ".join(_actor(p) for p in h["parties"]),
                ", ".join(h["regions"]) or "—",
            ]
            for h in body.get("hostilities", [])
        ],
    )


def _contested(body: Body) -> Rows:
    return (
        "Contested claims",
        ["event", "disputed by", "counter-claim"],
        [
            [c["event_id"][:8], _actor(c["disputed_by"]), c["counter_claim"]]
            for c in body["contested"]
        ],
    )


TABLES: tuple[Callable[[Body], Rows], ...] = (
    _rounds,
    _proposals,
    _agreements,
    _security_zones,
    _ceasefires,
    _allegations,
    _hostilities,
    _contested,
)
"""The state's tables, in the order they print."""
