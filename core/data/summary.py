"""Read-only summaries of the stored claims for overview pages."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Claim


@dataclass(frozen=True)
class LineVolume:
    line_of_business: str
    claims: int


def claims_per_line(session: Session) -> list[LineVolume]:
    rows = session.execute(
        select(Claim.line_of_business, func.count()).group_by(Claim.line_of_business).order_by(Claim.line_of_business)
    )
    return [LineVolume(line, count) for line, count in rows]
