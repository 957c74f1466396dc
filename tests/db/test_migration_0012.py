"""Migration 0012: stored usernames are normalised as sign-in looks them up; names that
would collide stop the upgrade, naming them, and change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from db import migrate
from db.session import engine_for

USER = (
    "INSERT INTO users (id, username, role, is_active, failed_logins, created_at, updated_at) "
    "VALUES (:id, :name, 'adjuster', TRUE, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)


def stored(database_url: str) -> list[str]:
    with engine_for(database_url).connect() as connection:
        return list(connection.scalars(text("SELECT username FROM users ORDER BY id")))


def test_stored_usernames_are_normalised(backend: str, database_url: str) -> None:
    migrate.downgrade(database_url, "0011")
    with engine_for(database_url).begin() as connection:
        for user_id, name in enumerate(["Ada", "ｂｏｂ", "cora"], start=1):
            connection.execute(text(USER), {"id": user_id, "name": name})
    migrate.upgrade(database_url)
    assert stored(database_url) == ["ada", "bob", "cora"]


def test_names_that_would_collide_stop_the_upgrade_and_are_named(backend: str, database_url: str) -> None:
    migrate.downgrade(database_url, "0011")
    with engine_for(database_url).begin() as connection:
        for user_id, name in enumerate(["Admin", "admin", "eve"], start=1):
            connection.execute(text(USER), {"id": user_id, "name": name})
    with pytest.raises(migrate.MigrationRefused, match="'Admin' and 'admin'"):
        migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == "0011" and stored(database_url) == ["Admin", "admin", "eve"]
