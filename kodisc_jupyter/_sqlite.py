"""One way to bring a SQLite file to the current schema, for the history and the local server.

`PRAGMA user_version` records how many migrations a file holds; each migration is SQL (one or
more statements) or a function of the connection, applied in order under a write lock, so
concurrent processes opening the same new file migrate it once.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

Migration = str | Callable[[sqlite3.Connection], None]


class SchemaTooNewError(Exception):
    """The file was written by a newer kodisc-jupyter than this one."""


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration]) -> None:
    """Apply the migrations `db` does not hold yet (the connection must be in autocommit mode)."""
    latest = len(migrations)
    if db.execute("PRAGMA user_version").fetchone()[0] == latest:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > latest:
            raise SchemaTooNewError(f"schema version {version} is newer than this kodisc-jupyter ({latest})")
        for target in range(version + 1, latest + 1):
            step = migrations[target - 1]
            if callable(step):
                step(db)
            else:
                for statement in step.split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.execute(f"PRAGMA user_version = {target}")
    except BaseException:
        rollback(db)
        raise
    db.execute("COMMIT")


def rollback(db: sqlite3.Connection) -> None:
    """Undo an open transaction (SQLite may already have rolled it back after an I/O error)."""
    if db.in_transaction:
        db.execute("ROLLBACK")
