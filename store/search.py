"""Search: the side tables that find events by actor, region, outlet, recorder and text.

Two tables beside the event index, keyed by position and written by the recorder in the
same transaction as the events (and by a restore):

- ``parley_event_terms`` holds one row per (kind, term) an event is found by: each
  actor's country (``country``) and name keys (``name``), each region (``region``),
  each outlet (``outlet``), and the token that recorded it (``recorded_by``);
- ``parley_event_text`` holds its prose (``domain.mentions``): an FTS5 table with the
  porter stemmer on SQLite, a ``tsvector`` generated with the ``english`` configuration
  and a GIN index on PostgreSQL, so that "ceasefire" finds "ceasefires" on both.

A store made before search existed gets both tables on its next start, filled from the
events it holds, in the same transaction that creates them (``backfill_params``).

``Search`` is a query: terms that must all match, and a ``TextQuery`` parsed from what a
person typed. Their text never reaches SQL as syntax: each phrase is split into words
and passed as a parameter (PostgreSQL) or as a quoted FTS5 string of letters and digits
(SQLite), so no input is a syntax error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import StoredEvent

from domain.mentions import name_key
from domain.values import check_country, check_region
from store.codec import Opener, decode_record
from store.mapper import IndexRow, index_row

TERMS_TABLE = "parley_event_terms"
TEXT_TABLE = "parley_event_text"
TEXT_SEARCH_CONFIG = "english"
"""PostgreSQL's text search configuration: English stemming (Snowball) and stop words."""
FTS5_TOKENIZER = "porter unicode61 remove_diacritics 0"
"""SQLite's: the Porter stemmer, as PostgreSQL's English stems; accents kept, as there."""

COUNTRY, NAME, REGION, OUTLET, RECORDED_BY = "country", "name", "region", "outlet", "recorded_by"

MAX_PHRASES = 20
MAX_WORDS = 50
MAX_REPEATS = 10  # values of one filter
MAX_TERM_LENGTH = 200  # as long as a name may be (domain.values.Name)

STOP_WORDS = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him
    his himself she her hers herself it its itself they them their theirs themselves
    what which who whom this that these those am is are was were be been being have
    has had having do does did doing a an the and but if or because as until while
    of at by for with about against between into through during before after above
    below to from up down in out on off over under again further then once here
    there when where why how all any both each few more most other some such no nor
    not only own same so than too very s t can will just don should now
    """.split()
)
"""PostgreSQL's English stop words (``tsearch_data/english.stop``, Snowball's list):
it never indexes them, so a phrase loses them at its edges, and a phrase of nothing
else is dropped, on both backends alike."""

_WORD = re.compile(r"[^\W_]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # PostgreSQL's text cannot hold NUL
_CHUNK = re.compile(r'(-?)"([^"]*)"?|(\S+)')


class SearchQueryError(ValueError):
    """A search parameter that cannot be searched for; ``field`` names it."""

    def __init__(self, message: str, *, field: str, value: object) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


SearchRows = tuple[list[tuple[int, str, str]], list[tuple[int, str]]]
"""The rows of the search tables: (position, kind, term) and (position, text)."""

Phrase = tuple[str, ...]
"""Words that must appear in this order."""


@dataclass(frozen=True)
class TextQuery:
    """What to find in the prose: every group (any one of its phrases), none of
    ``exclude``.

    The syntax is PostgreSQL's ``websearch_to_tsquery``'s: words (all must appear, in
    any form: "ceasefire" finds "ceasefires"), "a quoted phrase", ``or`` between two of
    them, and ``-word`` or ``-"a phrase"`` for what must not appear.
    """

    groups: tuple[tuple[Phrase, ...], ...]
    exclude: tuple[Phrase, ...] = ()

    @classmethod
    def parse(cls, text: str, field: str = "q") -> TextQuery:
        """Read what a person typed; ``SearchQueryError`` if nothing is left to find."""
        items: list[tuple[bool, Phrase] | None] = []  # None stands for "or"
        for match in _CHUNK.finditer(text):
            minus, quoted, bare = match.groups()
            if bare is not None and bare.casefold() == "or":
                items.append(None)
                continue
            if bare is not None:
                minus, quoted = ("-", bare[1:]) if bare.startswith("-") else ("", bare)
            words = _trimmed(tuple(w.casefold() for w in _WORD.findall(quoted)))
            if words:
                items.append((minus == "-", words))
        groups: list[list[Phrase]] = []
        exclude: list[Phrase] = []
        joined = False
        for index, item in enumerate(items):
            if item is None:
                joined = bool(groups) and index + 1 < len(items)
                continue
            negated, phrase = item
            if negated:
                exclude.append(phrase)
            elif joined:
                groups[-1].append(phrase)
            else:
                groups.append([phrase])
            joined = False
        phrases = [p for g in groups for p in g] + exclude
        if not groups:
            raise SearchQueryError(
                "give at least one word to find: letters or digits, not only common "
                "words (the, and) or exclusions (-word)",
                field=field,
                value=text,
            )
        if len(phrases) > MAX_PHRASES or sum(map(len, phrases)) > MAX_WORDS:
            raise SearchQueryError(
                f"at most {MAX_PHRASES} words or phrases and {MAX_WORDS} words in all",
                field=field,
                value=text,
            )
        return cls(tuple(tuple(g) for g in groups), tuple(exclude))

    def fts5(self) -> str:
        """The query as an FTS5 MATCH expression: every phrase a quoted string of words."""

        def phrase(words: Phrase) -> str:
            return '"' + " ".join(words) + '"'  # words hold no quote: letters and digits

        query = " AND ".join("(" + " OR ".join(map(phrase, g)) + ")" for g in self.groups)
        for words in self.exclude:
            query = f"({query}) NOT {phrase(words)}"
        return query

    def tsquery(self) -> tuple[str, list[str]]:
        """The query as SQL making a ``tsquery`` (``?`` placeholders), and its parameters."""
        params: list[str] = []

        def phrase(words: Phrase) -> str:
            params.append(" ".join(words))
            return f"phraseto_tsquery('{TEXT_SEARCH_CONFIG}', ?)"

        sql = " && ".join("(" + " || ".join(map(phrase, g)) + ")" for g in self.groups)
        for words in self.exclude:
            sql += f" && !!{phrase(words)}"
        return sql, params


def _trimmed(words: Phrase) -> Phrase:
    start, end = 0, len(words)
    while start < end and words[start] in STOP_WORDS:
        start += 1
    while end > start and words[end - 1] in STOP_WORDS:
        end -= 1
    return words[start:end]


@dataclass(frozen=True)
class Search:
    """Filters on what events mention: all ``terms`` (kind, term) and ``text`` must match."""

    terms: tuple[tuple[str, str], ...] = ()
    text: TextQuery | None = None

    @classmethod
    def of(
        cls,
        *,
        actors: Sequence[str] = (),
        regions: Sequence[str] = (),
        outlets: Sequence[str] = (),
        recorded_by: Sequence[str] = (),
        q: str | None = None,
    ) -> Search | None:
        """A search from request parameters, None when it filters nothing; raises
        ``SearchQueryError`` naming the parameter at fault."""
        for field, values in (
            ("actor", actors),
            ("region", regions),
            ("outlet", outlets),
            ("recorded_by", recorded_by),
        ):
            if len(values) > MAX_REPEATS:
                raise SearchQueryError(
                    f"at most {MAX_REPEATS} values", field=field, value=len(values)
                )
            for value in values:
                if len(value) > MAX_TERM_LENGTH:
                    raise SearchQueryError(
                        f"at most {MAX_TERM_LENGTH} characters", field=field, value=value
                    )
                if _CONTROL.search(value):
                    raise SearchQueryError(
                        "no name, code or outlet holds control characters",
                        field=field,
                        value=value,
                    )
        terms = [actor_term(a) for a in actors]
        terms += [(REGION, region_term(r)) for r in regions]
        terms += [(OUTLET, name_key(o)) for o in outlets]
        terms += [(RECORDED_BY, r) for r in recorded_by]
        text = TextQuery.parse(q) if q and q.strip() else None
        return cls(tuple(dict.fromkeys(terms)), text) if terms or text else None


def actor_term(value: str) -> tuple[str, str]:
    """An ``actor`` parameter as the term it finds: three letters are an ISO 3166-1
    alpha-3 country code (any case), anything else a name or one word of it."""
    text = value.strip()
    if len(text) == 3 and text.isascii() and text.isalpha():
        try:
            return COUNTRY, check_country(text)
        except ValueError as error:
            raise SearchQueryError(
                f"{error}; three letters are read as a country code, and a name is "
                "found by more letters or by one word of it",
                field="actor",
                value=value,
            ) from None
    key = name_key(text)
    if not key:
        raise SearchQueryError(
            "give a country code (RUS) or a name (Lavrov)", field="actor", value=value
        )
    return NAME, key


def region_term(value: str) -> str:
    try:
        return check_region(value)
    except ValueError as error:
        raise SearchQueryError(str(error), field="region", value=value) from None


def terms_of(row: IndexRow) -> Iterable[tuple[str, str]]:
    """The (kind, term) pairs that find an event."""
    found = row.mentions
    if found is None:
        return
    yield from ((COUNTRY, c) for c in found.countries)
    yield from ((NAME, n) for n in found.names)
    yield from ((REGION, r) for r in found.regions)
    yield from ((OUTLET, o) for o in found.outlets)
    if row.recorded_by is not None:
        yield RECORDED_BY, row.recorded_by


def search_params(
    stored_events: Sequence[StoredEvent], positions: Sequence[int]
) -> SearchRows:
    """The rows of the two search tables for the stored events that carry an index row
    (``IndexedStoredEvent``): (position, kind, term) and (position, text)."""
    placed = zip(positions, (getattr(s, "index", None) for s in stored_events), strict=True)
    return rows_params((p, row) for p, row in placed if row is not None)


def rows_params(
    placed: Iterable[tuple[int, IndexRow]],
) -> SearchRows:
    """(position, kind, term) and (position, text) rows for index rows at their
    positions; an event without prose has no text row."""
    terms: list[tuple[int, str, str]] = []
    texts: list[tuple[int, str]] = []
    for position, row in placed:
        terms.extend((position, kind, term) for kind, term in terms_of(row))
        if row.mentions is not None and row.mentions.text:
            texts.append((position, row.mentions.text))
    return terms, texts


def backfill_params(
    rows: Iterable[tuple[int, Any, int, bytes]], opener: Opener | None = None
) -> SearchRows:
    """The search rows of stored rows (position, originator_id, version, state): how a
    store made before search existed is filled (``opener`` opens their sealed fields)."""
    return rows_params(
        (
            position,
            index_row(decode_record(originator_id, version, bytes(state), position, opener)),
        )
        for position, originator_id, version, state in rows
    )


def terms_statements(table: str = TERMS_TABLE, prefix: str = "", *, sqlite: bool) -> list[str]:
    """DDL for the terms table in either dialect: its key serves lookups by term."""
    rowid = " WITHOUT ROWID" if sqlite else ""
    return [
        f"CREATE TABLE IF NOT EXISTS {prefix}{table} ("
        "kind TEXT NOT NULL, term TEXT NOT NULL, position BIGINT NOT NULL, "
        f"PRIMARY KEY (kind, term, position)){rowid}",
    ]


def sqlite_text_statements(table: str = TEXT_TABLE) -> list[str]:
    """An FTS5 table whose rowid is the event's position. It keeps its own copy of the
    prose (a contentless table could not delete rows, which a restore must do)."""
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5("
        f"body, tokenize='{FTS5_TOKENIZER}')"
    ]


def postgres_text_statements(table: str = TEXT_TABLE, prefix: str = "") -> list[str]:
    t = f"{prefix}{table}"
    return [
        f"CREATE TABLE IF NOT EXISTS {t} ("
        "position BIGINT PRIMARY KEY, body TEXT NOT NULL, "
        f"document tsvector GENERATED ALWAYS AS (to_tsvector('{TEXT_SEARCH_CONFIG}', body)) "
        "STORED)",
        f"CREATE INDEX IF NOT EXISTS {table}_document ON {t} USING GIN (document)",
    ]
