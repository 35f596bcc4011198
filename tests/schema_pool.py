"""PostgreSQL schemas that hold an empty store, handed from one test to the next.

Opening a store in a new schema costs PostgreSQL some 64 ms of CPU (its CPU time, on a
shared machine); in a schema that holds the tables already, 44 ms (most of it the six
connections the store opens); emptying the tables afterwards, 1 ms. So a test whose
store ``tests/conftest.py``'s ``store_config`` opens gets a schema from this pool when
there is one, and gives it back after the test when it can be trusted to be as new:

- its catalogue (tables, columns, defaults, indexes, constraints, triggers and whether
  they are enabled, functions, types) is exactly that of a schema where a store was just
  created: a test that dropped a table, a column or a trigger, or left one disabled,
  never hands its schema on;
- every row is deleted (the append-only triggers are skipped for it, as a replica
  does) and every sequence is set back to its start, so positions start at 1 again.

Whether a reused schema is as good as a new one is checked once per process, before the
pool is used: a store opened on an emptied schema must leave the same catalogue and the
same number of rows in each table as one opened on a new schema. When it does not (the
store writes something only when it creates its tables), every test gets a new schema,
as before.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg

# Everything in a schema that a test could change and a store depends on; ``{schema}``
# stands for the schema's name, wherever the catalogue prints it.
_CATALOGUE = """
SELECT line FROM (
    SELECT format('relation %%s %%s %%s %%s %%s', relname, relkind, relpersistence,
                  relrowsecurity, reloptions) AS line
    FROM pg_class WHERE relnamespace = %(ns)s
  UNION ALL
    SELECT format('column %%s.%%s %%s %%s %%s %%s %%s', c.relname, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
                  a.attgenerated, pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relnamespace = %(ns)s AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
    SELECT format('index %%s', pg_get_indexdef(i.indexrelid))
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = %(ns)s
  UNION ALL
    SELECT format('constraint %%s %%s %%s', c.relname, k.conname, pg_get_constraintdef(k.oid))
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid WHERE k.connamespace = %(ns)s
  UNION ALL
    SELECT format('trigger %%s %%s', t.tgenabled, pg_get_triggerdef(t.oid))
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE c.relnamespace = %(ns)s AND NOT t.tgisinternal
  UNION ALL
    SELECT format('function %%s %%s', proname, md5(replace(prosrc, %(name)s, '{schema}')))
    FROM pg_proc WHERE pronamespace = %(ns)s
  UNION ALL
    SELECT format('type %%s %%s', typname, typtype) FROM pg_type
    WHERE typnamespace = %(ns)s AND typtype NOT IN ('c', 'b')
) AS everything ORDER BY 1
"""


DEAD_ROWS_MAX = 5_000


def new_schema_name() -> str:
    return f"parley_test_{uuid.uuid4().hex[:12]}"


class SchemaPool:
    """Empty stores in schemas of one database, for one pytest process."""

    def __init__(self, url: str, open_store: Callable[[str], None]) -> None:
        """``open_store(schema)`` opens a store in ``schema`` and closes it again."""
        self.url = url
        self.open_store = open_store
        self.conn = psycopg.connect(url, autocommit=True)
        self.free: list[str] = []
        self.dead_rows: dict[str, int] = {}  # left by the DELETEs since the last TRUNCATE
        self.store_catalogue: list[str] | None = None
        self.enabled: bool | None = None  # decided at the first take()

    def close(self) -> None:
        self.conn.close()

    def new_schema(self) -> str:
        schema = new_schema_name()
        self.conn.execute(f'CREATE SCHEMA "{schema}"')
        return schema

    def take(self) -> str:
        """A schema holding an empty store, or else a new, empty schema
        (its store is created by the test, and it may come back here afterwards)."""
        if self.enabled is None:
            self.enabled = self._reuse_is_as_new()
        if not self.free:
            return self.new_schema()
        return self.free.pop()

    def give_back(self, schema: str) -> None:
        """Keep ``schema`` for another test if its store is as new once emptied; leave it
        otherwise (the database is dropped at the end of the run, with it)."""
        if not self.enabled or self.catalogue(schema) != self.store_catalogue:
            return
        try:
            self.empty(schema)
        except psycopg.Error:  # a lock still held by what the test left running
            return
        self.free.append(schema)

    def catalogue(self, schema: str) -> list[str]:
        with self.conn.cursor() as cur:
            cur.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", (schema,))
            found = cur.fetchone()
            if found is None:
                return []
            cur.execute(_CATALOGUE, {"ns": found[0], "name": schema})
            return [str(row[0]).replace(schema, "{schema}") for row in cur.fetchall()]

    def empty(self, schema: str) -> None:
        """Delete every row and restart every sequence, in one transaction that waits at
        most a few seconds for a lock. A DELETE costs PostgreSQL a millisecond where a
        TRUNCATE (new files for each table and index) costs fifteen, but leaves dead rows
        (autovacuum is off): once a schema holds ``DEAD_ROWS_MAX`` of them, it is
        truncated instead."""
        tables = self.conn.execute(
            "SELECT format('%%I.%%I', nspname, relname) FROM pg_class"
            " JOIN pg_namespace ON pg_namespace.oid = relnamespace"
            " WHERE nspname = %s AND relkind IN ('r', 'p')",
            (schema,),
        ).fetchall()
        sequences = self.conn.execute(
            "SELECT format('%%I.%%I', schemaname, sequencename), start_value FROM pg_sequences"
            " WHERE schemaname = %s",
            (schema,),
        ).fetchall()
        truncate = self.dead_rows.get(schema, 0) > DEAD_ROWS_MAX
        with self.conn.transaction():
            self.conn.execute("SET LOCAL lock_timeout = '5s'")
            self.conn.execute("SET LOCAL session_replication_role = replica")  # no triggers
            if truncate and tables:
                self.conn.execute(f"TRUNCATE {', '.join(name for (name,) in tables)}")
            deleted = 0
            for (table,) in [] if truncate else tables:
                deleted += self.conn.execute(f"DELETE FROM {table}").rowcount
            for sequence, start in sequences:
                self.conn.execute(
                    "SELECT setval(%s::regclass, %s::bigint, false)", (sequence, start)
                )
        self.dead_rows[schema] = 0 if truncate else self.dead_rows.get(schema, 0) + deleted

    def row_counts(self, schema: str) -> dict[str, int]:
        tables = self.conn.execute(
            "SELECT quote_ident(relname) FROM pg_class WHERE relnamespace = %s::regnamespace"
            " AND relkind IN ('r', 'p') ORDER BY 1",
            (f'"{schema}"',),
        ).fetchall()
        counts = {}
        for (table,) in tables:
            row = self.conn.execute(f'SELECT count(*) FROM "{schema}".{table}').fetchone()
            counts[table] = int(row[0]) if row else 0
        return counts

    def _reuse_is_as_new(self) -> bool:
        """Open a store on a new schema, empty it, open one again: the same catalogue and
        the same rows per table, or the pool stays off. The schema is the pool's first."""
        schema = self.new_schema()
        self.open_store(schema)
        self.store_catalogue = self.catalogue(schema)
        created = self.row_counts(schema)
        self.empty(schema)
        self.open_store(schema)
        if self.catalogue(schema) != self.store_catalogue or self.row_counts(schema) != created:
            return False
        self.empty(schema)
        self.free.append(schema)
        return True
