"""The app's PostgreSQL role: it reads and writes the data, may only add audit rows, and
cannot switch the audit triggers off (only the tables' owner can). PostgreSQL only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from db import roles
from db.session import engine_for


@pytest.fixture
def app_url(backend: str, database_url: str) -> Iterator[str]:
    if backend != "postgresql":
        pytest.skip("roles are PostgreSQL's")
    role = f"claimlens_app_{uuid.uuid4().hex[:8]}"
    roles.grant_app_role(database_url, role)
    roles.grant_app_role(database_url, role)  # again, as after a later migration: no error
    yield make_url(database_url).set(username=role, password=None).render_as_string(hide_password=False)
    with engine_for(database_url).begin() as connection:
        connection.exec_driver_sql(f'DROP OWNED BY "{role}"')
        connection.exec_driver_sql(f'DROP ROLE "{role}"')


AUDIT_ROW = (
    "INSERT INTO audit_log (at, actor, actor_role, action, entity_type, details) "
    "VALUES (CURRENT_TIMESTAMP, 'ada', 'adjuster', 'claim.viewed', 'claim', '{}')"
)


def test_the_app_role_writes_data_adds_audit_rows_and_cannot_rewrite_them(app_url: str) -> None:
    engine = create_engine(app_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(AUDIT_ROW))
            connection.execute(text("UPDATE users SET failed_logins = 0"))  # ordinary data: allowed
        for attack in (
            "UPDATE audit_log SET actor = 'mallory'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "ALTER TABLE audit_log DISABLE TRIGGER USER",
            "DELETE FROM audit_chain",
            "UPDATE alembic_version SET version_num = '0001'",
        ):
            with pytest.raises(DBAPIError, match=r"permission denied|must be owner"), engine.begin() as connection:
                connection.execute(text(attack))
    finally:
        engine.dispose()


def test_a_sqlite_database_or_an_odd_name_is_refused(database_url: str) -> None:
    with pytest.raises(roles.RoleRefused, match="plain role name"):
        roles.grant_app_role(database_url, 'x"; DROP TABLE users; --')
    if engine_for(database_url).dialect.name == "sqlite":
        with pytest.raises(roles.RoleRefused, match="only PostgreSQL has roles"):
            roles.grant_app_role(database_url, "claimlens_app")
