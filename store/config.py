"""The one place where Parley's settings become the eventsourcing library's environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from store.files import private_database

KEY_DIR_KEY = "PARLEY_KEY_DIR"  # in a library env: the KEK folder (StoreConfig.kek_dir)
SQLITE_RECORDER_TOPIC = "store.sqlite:SQLiteEventRecorder"
POSTGRES_RECORDER_TOPIC = "store.postgres:PostgresEventRecorder"


@dataclass(frozen=True)
class StoreConfig:
    """Where the log lives: a PostgreSQL URL, or else a SQLite file in ``data_dir``.

    Its defaults are the store's, written here once: ``api.settings.Settings`` takes
    its own defaults for these knobs from this class."""

    data_dir: Path = Path("data")
    database_url: str | None = None
    sqlite_file: str = "parley.sqlite3"
    postgres_schema: str = "public"
    postgres_pool_size: int = 5
    poll_seconds: float = 0.2  # SQLite: how often subscriptions look for other processes
    writer_cache: int = 64  # negotiations whose write side the writer keeps in memory
    key_dir: Path | None = None  # the KEK files (store.kek); None: <data_dir>/keys

    @property
    def kek_dir(self) -> Path:
        """Where the key-encryption keys live: outside the database, always."""
        return self.key_dir if self.key_dir is not None else self.data_dir / "keys"

    @property
    def backend(self) -> str:
        return "postgres" if self.database_url else "sqlite"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / self.sqlite_file

    def describe(self) -> str:
        """Where the data is, without credentials."""
        if self.database_url:
            parts = urlsplit(self.database_url)
            return f"postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}"
        return f"sqlite:{self.sqlite_path}"


def eventsourcing_env(config: StoreConfig) -> dict[str, str]:
    """Translate a StoreConfig into the library's environment variables."""
    if config.database_url:
        parts = urlsplit(config.database_url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError(
                f"PARLEY_DATABASE_URL must start with postgresql://, not {parts.scheme}://"
            )
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": POSTGRES_RECORDER_TOPIC,
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_SCHEMA": config.postgres_schema,
            # The pool starts with one connection and grows on demand (psycopg_pool
            # opens one for a client that waits) up to three times postgres_pool_size;
            # idle ones close after ten minutes. Its minimum was postgres_pool_size: five
            # sessions started at every open, though opening a store uses one, and each
            # costs PostgreSQL ~5 ms of CPU (a test's store, a runner's, a view's).
            "POSTGRES_POOL_SIZE": "1",
            "POSTGRES_MAX_OVERFLOW": str(config.postgres_pool_size * 3 - 1),
            "POSTGRES_LOCK_TIMEOUT": "10",
            "POSTGRES_CONNECT_TIMEOUT": "5",
            KEY_DIR_KEY: str(config.kek_dir),
        }
    private_database(config.sqlite_path)  # 0600, and its -wal and -shm with it
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "APPLICATION_RECORDER_TOPIC": SQLITE_RECORDER_TOPIC,
        "SQLITE_DBNAME": str(config.sqlite_path),
        "SQLITE_LOCK_TIMEOUT": "10",
        KEY_DIR_KEY: str(config.kek_dir),
    }
