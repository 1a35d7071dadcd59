"""Database engines: the connection, transactions and SQL dialect of SQLite and PostgreSQL.

The store writes one SQL for both (`?` placeholders, `ON CONFLICT`, `RETURNING`, text ISO times);
an engine runs it on its database. What cannot be written once (the schema, full-text search,
row locks) is asked of the engine by name (`dialect`), in the storage package only.

SQLite, through sqlite-utils, is the default and needs nothing installed. PostgreSQL (psycopg 3)
is for several daemons on several hosts sharing one database.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlite_utils import Database


class StorageError(Exception):
    """The database cannot be opened or used; the message says which and why."""


def _database_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:
        return (sqlite3.Error, StorageError)
    return (sqlite3.Error, psycopg.Error, StorageError)


# What a database operation may raise, whichever the engine: for callers that log and go on.
DATABASE_ERRORS = _database_errors()


class Engine(ABC):
    dialect: str  # "sqlite" | "postgresql"
    description: str  # for messages: a path, or a URL without its password

    @abstractmethod
    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]: ...

    @abstractmethod
    def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        """One statement for many rows (bulk loads: an archive, a rebuilt index)."""

    @abstractmethod
    def executescript(self, sql: str) -> None: ...

    @abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """One atomic write; nested calls ride along the outer transaction."""

    @abstractmethod
    def savepoint(self) -> contextlib.AbstractContextManager[None]:
        """A part of the current transaction that can fail alone (one article of a batch)."""

    @abstractmethod
    def close(self) -> None: ...

    def one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def insert(self, sql: str, params: Iterable[Any] = ()) -> int:
        """An INSERT ... RETURNING id; the new row's id."""
        row = self.one(sql, params)
        assert row is not None, "INSERT ... RETURNING gave no row"
        return int(next(iter(row.values())))

    @property
    def lock_rows(self) -> str:
        """What to append to a SELECT that is about to update the rows it reads."""
        return ""


class SQLiteEngine(Engine):
    """A SQLite file in WAL mode. Safe for one writer per connection; processes share the file.

    Writes take the lock up front (BEGIN IMMEDIATE): a deferred transaction, under a concurrent
    writer (the daemon delivering alerts while a child crawl stores articles), can fail with
    "database is locked" instead of waiting for the lock."""

    dialect = "sqlite"

    def __init__(self, path: str | Path, timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.description = str(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Autocommit: a statement outside `transaction()` commits at once, as on PostgreSQL;
            # Python's implicit BEGIN would otherwise hold the write lock until the next commit.
            conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
            self.db = Database(conn)
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.enable_wal()  # outside any transaction, as SQLite requires
            # NORMAL is durable for committed transactions in WAL mode except on power loss
            self.db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as e:
            raise StorageError(f"{path}: cannot open the SQLite database: {e}") from None
        self._savepoints = 0

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        cur = self.db.conn.execute(sql, list(params))
        if cur.description is None:
            return []
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        return self.db.conn.execute(sql, list(params)).rowcount

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        self.db.conn.executemany(sql, (list(r) for r in rows))

    def executescript(self, sql: str) -> None:
        self.db.conn.executescript(sql)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        conn = self.db.conn
        if conn.in_transaction:  # nested: ride along the outer transaction
            yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        self.db.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.db.conn.execute(f"ROLLBACK TO {name}")
            self.db.conn.execute(f"RELEASE {name}")
            raise
        self.db.conn.execute(f"RELEASE {name}")

    def close(self) -> None:
        self.db.close()


_PLACEHOLDER = re.compile(r"\?")


class PostgresEngine(Engine):
    """A PostgreSQL database through psycopg 3, in autocommit mode outside transactions."""

    dialect = "postgresql"

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError:
            raise StorageError(
                "database is a postgresql:// URL but psycopg is not installed: "
                "pip install 'balkanwatch[postgres]'"
            ) from None
        self.description = _without_password(url)
        self._connect = lambda: psycopg.connect(
            url, autocommit=True, row_factory=dict_row, connect_timeout=int(timeout)
        )
        self._error = psycopg.Error
        self._transactions = 0  # open `transaction()` blocks: no reconnecting inside one
        self.conn = self._open()

    def _open(self) -> Any:
        try:
            return self._connect()
        except self._error as e:
            message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise StorageError(f"{self.description}: cannot connect: {message}") from None

    def _live(self) -> Any:
        """The connection; a new one when the last was lost (the server restarted, a network
        cut): the statement that met the loss failed, the daemon's next one need not. Never
        inside a transaction: its rest would run outside it."""
        if self.conn.broken:
            if self._transactions:
                raise StorageError(f"{self.description}: connection lost in a transaction")
            self.conn.close()
            self.conn = self._open()
        return self.conn

    @staticmethod
    def _sql(sql: str) -> str:
        return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        cur = self._live().execute(self._sql(sql), list(params))
        return list(cur.fetchall()) if cur.description else []

    def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        cur = self._live().execute(self._sql(sql), list(params))
        return int(cur.rowcount)

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(self._sql(sql), [list(r) for r in rows])  # type: ignore[arg-type]

    def executescript(self, sql: str) -> None:
        self._live().execute(sql)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        conn = self._live()
        if conn.info.transaction_status != 0:  # nested: ride along (0 = idle)
            yield
            return
        self._transactions += 1
        try:
            with conn.transaction():
                yield
        finally:
            self._transactions -= 1

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        conn = self._live()
        self._transactions += 1
        try:
            with conn.transaction():  # nested psycopg transactions are savepoints
                yield
        finally:
            self._transactions -= 1

    @property
    def lock_rows(self) -> str:
        return " FOR UPDATE SKIP LOCKED"

    def close(self) -> None:
        self.conn.close()


def _without_password(url: str) -> str:
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:****@", url)


def is_postgres_url(database: str | Path) -> bool:
    return str(database).startswith(("postgresql://", "postgres://"))


def connect(database: str | Path, timeout: float = 60.0) -> Engine:
    """The engine for a `database` setting: a postgresql:// URL or a SQLite file path."""
    if is_postgres_url(database):
        return PostgresEngine(str(database), timeout)
    if any(part.startswith(("postgresql:", "postgres:")) for part in Path(database).parts):
        # A URL that went through Path() (perhaps made absolute) lost a slash: never a SQLite
        # file named like a URL.
        raise StorageError(f"{_without_password(str(database))}: not a postgresql:// URL")
    return SQLiteEngine(database, timeout)
