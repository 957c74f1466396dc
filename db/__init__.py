"""Database layer: ORM models, engine/sessionmaker, migrations and query functions."""
