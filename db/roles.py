"""The PostgreSQL role the app and the worker connect as, apart from the tables' owner.

The append-only triggers on `audit_log` and `audit_chain` can be switched off by the
tables' owner (`ALTER TABLE ... DISABLE TRIGGER`). So migrations run as the owner, and the
app and the worker run as a role that may read and write the data it needs, may only
INSERT and SELECT on the audit tables, and owns nothing. `grant_app_role` creates that
role or brings its rights up to date (run it again after a migration adds tables;
`claimlens db upgrade --app-role NAME` does both).
"""

from __future__ import annotations

import re

from sqlalchemy import text

from db.session import engine_for

AUDIT_TABLES = ("audit_log", "audit_chain")
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class RoleRefused(Exception):
    """The role cannot be set up as asked; the message says why."""


def grant_app_role(url: str, role: str, password: str | None = None) -> None:
    """Create `role` (LOGIN) if needed and give it exactly the app's rights, as the owner."""
    if not ROLE_NAME.fullmatch(role):
        raise RoleRefused(f"{role!r} is not a plain role name (lower-case letters, digits, '_')")
    engine = engine_for(url)
    if engine.dialect.name != "postgresql":
        raise RoleRefused("only PostgreSQL has roles; a SQLite file is protected by its file permissions")
    with engine.begin() as connection:
        exists = connection.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role})
        if not exists:
            connection.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        if password is not None:
            quoted = connection.scalar(text("SELECT quote_literal(:password)"), {"password": password})
            connection.exec_driver_sql(f'ALTER ROLE "{role}" PASSWORD {quoted}')
        database = connection.scalar(text("SELECT current_database()"))
        for statement in (
            f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"',
            f'GRANT USAGE ON SCHEMA public TO "{role}"',
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"',
            f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
            f'REVOKE UPDATE, DELETE, TRUNCATE ON {", ".join(AUDIT_TABLES)} FROM "{role}"',
            f'REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM "{role}"',
        ):
            connection.exec_driver_sql(statement)
