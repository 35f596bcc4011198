"""Baseline for bench/append.py: a FastAPI no-op POST that parses the same pydantic body."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from domain.events import AnyEvent

app = FastAPI()


@app.post("/negotiations/{slug}/events", status_code=201)
async def noop(slug: str, event: AnyEvent) -> dict[str, Any]:
    return {"negotiation": slug, "id": str(event.id)}
