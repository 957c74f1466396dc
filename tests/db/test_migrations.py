"""Migrations bring an empty database to head on every backend, and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from db import migrate
from db.models import Base
from db.session import engine_for


def test_upgrade_from_empty_creates_every_table(backend: str, database_url: str) -> None:
    migrate.downgrade(database_url, "base")
    assert set(inspect(engine_for(database_url)).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()
    tables = set(inspect(engine_for(database_url)).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_migrations_and_models_agree(backend: str, database_url: str) -> None:
    with engine_for(database_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_queue_indexes_exist(backend: str, database_url: str) -> None:
    indexed = {tuple(index["column_names"]) for index in inspect(engine_for(database_url)).get_indexes("claims")}
    for columns in [("status",), ("report_date",), ("assigned_to_id", "status")]:
        assert columns in indexed
    prediction_indexes = {
        tuple(index["column_names"]) for index in inspect(engine_for(database_url)).get_indexes("predictions")
    }
    assert ("band", "priority") in prediction_indexes


def test_an_existing_database_with_rows_upgrades_to_head_keeping_them(backend: str, database_url: str) -> None:
    """SQLite alters tables by copying them; with foreign keys enforced that used to fail
    ("FOREIGN KEY constraint failed" on DROP TABLE model_versions) once rows referenced them."""
    from sqlalchemy import text

    migrate.downgrade(database_url, "0006")
    engine = engine_for(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO model_versions (id, task, version, stage, artifact_path, base_model, method, metrics,"
                " parameters, created_at) VALUES (1, 'claim_risk', 1, 'champion', 'models/x', 'm', 'head', '{}', '{}',"
                " CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO model_versions (id, task, version, stage, artifact_path, base_model, method, metrics,"
                " parameters, created_at, previous_champion_id) VALUES (2, 'claim_risk', 2, 'candidate', 'models/y',"
                " 'm', 'head', '{}', '{}', CURRENT_TIMESTAMP, 1)"
            )
        )
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, previous_champion_id FROM model_versions ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(1, None), (2, 1)]
