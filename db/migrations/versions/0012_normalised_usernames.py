"""usernames stored normalised (NFKC, case-folded)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 19:00:00

Sign-in looks a username up in its normalised form (`core.credentials`), so stored names
are normalised too. Two stored names that normalise to the same one (`Admin` and
`admin`) cannot both keep signing in: the upgrade stops and names them, so that an
administrator renames or removes one first.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.migrate import MigrationRefused

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _normalised(name: str) -> str:  # as core.credentials.normalise_username on the day of this migration
    return unicodedata.normalize("NFKC", name).strip().casefold()


def upgrade() -> None:
    connection = op.get_bind()
    users = connection.execute(sa.text("SELECT id, username FROM users")).all()
    by_name: dict[str, list[str]] = {}
    for _, name in users:
        by_name.setdefault(_normalised(name), []).append(name)
    clashes = [names for names in by_name.values() if len(names) > 1]
    if clashes:
        listed = "; ".join(" and ".join(repr(n) for n in names) for names in clashes)
        raise MigrationRefused(f"these usernames become the same when normalised: {listed}; rename one of each first")
    for user_id, name in users:
        if _normalised(name) != name:
            connection.execute(
                sa.text("UPDATE users SET username = :name WHERE id = :id"), {"name": _normalised(name), "id": user_id}
            )


def downgrade() -> None:
    pass  # the original spelling is not kept; normalised names still sign in
