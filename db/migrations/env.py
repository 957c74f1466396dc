"""Alembic environment: runs migrations on the URL the caller configured."""

from __future__ import annotations

from alembic import context

from db.models import Base
from db.session import engine_for

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "db.migrate sets sqlalchemy.url"
    with engine_for(url).connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it and dropping the original (Alembic's batch
            # mode); with foreign keys enforced, dropping a table that others reference fails
            # on a database that has rows. The pragma only takes effect outside a
            # transaction, so it goes to the driver's connection before anything else.
            _sqlite_foreign_keys(connection, on=False)
        try:
            context.configure(
                connection=connection, target_metadata=target_metadata, render_as_batch=sqlite, compare_type=True
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    # Fail loudly, naming the rows: pysqlite has already committed the DDL (no
                    # rollback undoes it), so the error is what stops the upgrade here.
                    if broken:
                        raise RuntimeError(f"migration left rows with broken references: {broken[:5]}")
            connection.commit()
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)


def _sqlite_foreign_keys(connection, *, on: bool) -> None:  # type: ignore[no-untyped-def]
    connection.connection.driver_connection.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
