"""Settings, read from the environment (``PARLEY_*``) through one class."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.ratelimit import Limits, RateLimit
from projections.service import (
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_MAX_EVENTS,
    DEFAULT_MAX_NEGOTIATIONS,
)
from store.config import StoreConfig

REPO_ROOT = Path(__file__).resolve().parent.parent


def _founding_example(name: str = "istanbul-2025.ndjson") -> Path:
    """The checkout's ``examples/``, else the copy an installed wheel put under
    ``<prefix>/share/parley/examples`` (pyproject.toml's data-files)."""
    checkout = REPO_ROOT / "examples" / name
    if checkout.exists():
        return checkout
    return Path(sys.prefix) / "share" / "parley" / "examples" / name



class Settings(BaseSettings):
    """Every knob Parley has. Each field is ``PARLEY_<NAME>`` in the environment.

    The knobs that reach the store or the as-of engines take their defaults from where
    those are written once: ``StoreConfig``'s fields and ``projections.service``."""

    model_config = SettingsConfigDict(env_prefix="PARLEY_", extra="ignore")

    host: str = Field(default="127.0.0.1", description="the address to listen on")
    port: int = Field(default=8000, ge=1, le=65535, description="the port to listen on")
    data_dir: Path = Field(
        default=StoreConfig.data_dir,
        description="the SQLite file, the admin token, the signing key and the keys",
    )
    database_url: str | None = Field(
        default=None, description="postgresql://user:pass@host:port/db; SQLite when unset"
    )
    database_schema: str = Field(
        default=StoreConfig.postgres_schema, description="PostgreSQL: the schema of the tables"
    )
    key_dir: Path | None = Field(
        default=None,
        description="the key-encryption key files that wrap the person keys; default "
        "<data_dir>/keys. Every process and host that opens the store must read the same "
        "folder (on several hosts: a shared folder)",
    )
    admin_token: str | None = Field(
        default=None,
        description="the bootstrap token: scope admin, recorded as 'admin'; generated when unset",
    )
    read_token: str | None = Field(
        default=None, description="when set, reads need a token: this one or any named token"
    )
    rate_limit: str | None = Field(
        default=None,
        description="per token and worker: N/second, N/minute or N/hour (N at once, then "
        "N per period); unset: no limit",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="a request body larger than this is refused (413)"
    )
    max_header_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="a request line and headers larger than this are refused (431)",
    )
    # Heavy reads (api/http/guard.py): each holds about a page of rows while its client reads.
    heavy_exports: int = Field(default=8, ge=1, description="exports answered at once")
    heavy_timelines: int = Field(
        default=4, ge=1, description="full timelines (no ?latest=) answered at once"
    )
    heavy_replays: int = Field(
        default=8, ge=1, description="streams replaying the log from far behind at once"
    )
    heavy_per_client: int = Field(
        default=2,
        ge=1,
        description="heavy reads one client (a token, else a peer address) runs at once",
    )
    stall_seconds: float = Field(
        default=30, gt=0, description="a heavy answer whose client reads nothing this long is cut"
    )
    example: Path | None = Field(
        default=_founding_example(),
        description="NDJSON loaded into an empty store at start-up; empty to skip",
    )
    workers: int = Field(default=1, ge=1, le=64, description="server processes on one socket")
    heartbeat_seconds: float = Field(
        default=15, gt=0, description="longest silence on a live stream before a heartbeat"
    )
    stream_buffer: int = Field(
        default=10_000, ge=1, description="events a live stream may fall behind before it ends"
    )
    poll_seconds: float = Field(
        default=StoreConfig.poll_seconds,
        gt=0,
        description="SQLite: how often to look for other processes' appends",
    )
    projections: Literal["inline", "off"] = Field(
        default="inline",
        description="inline: run the projections in the API process; off: workers run them "
        "(parley project run)",
    )
    ready_max_lag: int = Field(
        default=1000,
        ge=0,
        description="with inline projections, /health/ready answers 503 while one is more "
        "than this many events behind the log",
    )
    asof_max_negotiations: int = Field(
        default=DEFAULT_MAX_NEGOTIATIONS,
        ge=1,
        le=100_000,
        description="negotiations whose as-of engine stays in memory",
    )
    asof_max_events: int = Field(
        default=DEFAULT_MAX_EVENTS,
        ge=1,
        le=10**9,
        description="events the cached as-of engines may hold in all (about 1.5 KB each)",
    )
    asof_checkpoint_every: int = Field(
        default=DEFAULT_CHECKPOINT_EVERY,
        ge=0,
        le=10**9,
        description="events a negotiation grows by between checkpoints of its as-of fold, "
        "written off the request path (also when the log falls idle, and at shutdown); "
        "0: none written",
    )
    writer_cache: int = Field(
        default=StoreConfig.writer_cache,
        ge=1,
        le=100_000,
        description="negotiations whose write side stays in memory",
    )
    telemetry: bool = Field(
        default=False,
        description="FastAPI's OpenTelemetry spans and metrics (off: they cost on every "
        "request, and Parley configures no exporter)",
    )
    warm_up: bool = Field(
        default=True,
        description="build the routes' validators, serializers and dependency trees at "
        "start, before the server answers (off: the first request of each kind builds its "
        "router's, tens of ms)",
    )
    new_signing_key: bool = Field(
        default=False,
        description="make a new signing key when the one that signed heads is missing or "
        "damaged (it is retired, and GET /keys keeps listing it); never rotates a key that "
        "loads",
    )
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        default="info",
        description="the level of Parley's logs (stderr: JSON lines, text on a terminal); "
        "info logs one line per request, warning only what went wrong",
    )
    wait_for_seconds: float = Field(
        default=5.0, gt=0, le=60, description="longest a read waits for ?wait_for=<position>"
    )

    @field_validator(
        "example",
        "database_url",
        "key_dir",
        "admin_token",
        "read_token",
        "rate_limit",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_parses(cls, value: str | None) -> str | None:
        return None if value is None else str(RateLimit.parse(value))

    def store_config(self) -> StoreConfig:
        return StoreConfig(
            data_dir=self.data_dir,
            database_url=self.database_url or None,
            postgres_schema=self.database_schema,
            poll_seconds=self.poll_seconds,
            writer_cache=self.writer_cache,
            key_dir=self.key_dir,
        )

    def limits(self) -> Limits:
        """The heavy-read limits (``api.http.guard``)."""
        return Limits(
            export=self.heavy_exports,
            timeline=self.heavy_timelines,
            replay=self.heavy_replays,
            per_client=self.heavy_per_client,
            stall_seconds=self.stall_seconds,
        )

    @property
    def token_file(self) -> Path:
        return self.data_dir / "admin-token"

    @property
    def signing_key_file(self) -> Path:
        """The Ed25519 key that signs heads: in the data dir, on PostgreSQL too."""
        return self.data_dir / "signing-key.pem"
