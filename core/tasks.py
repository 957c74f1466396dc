"""The two learning tasks: their names, and what differs between them outside the model code.

`Task` values are what the database stores (`model_versions.task`, `training_runs.task`)
and what the CLI accepts (with the alias `claim`). `SPECS` says, per task, which rows it
learns from: the text column, the row id, the column that orders rows in time, and what
one row is called in the words a person reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Task(StrEnum):
    CLAIM_RISK = "claim_risk"
    SENTIMENT = "sentiment"

    @classmethod
    def parse(cls, value: str) -> Task:
        """A task from its name or alias (`claim`); `ValueError` naming the choices."""
        try:
            return ALIASES[value.strip().lower()]
        except KeyError:
            raise ValueError(f"unknown task {value!r}; choose claim or sentiment") from None


ALIASES = {"claim": Task.CLAIM_RISK, "claim_risk": Task.CLAIM_RISK, "sentiment": Task.SENTIMENT}


@dataclass(frozen=True)
class TaskSpec:
    text_column: str  # what the encoder reads (a claim's: its schema's text fields, `core.claim_store.texts`)
    id_column: str  # the row's id in a training frame (and in a run's data manifest)
    date_column: str  # orders the rows in time (the time split, a run's data window)
    row_name: str  # one row, in words


SPECS = {
    Task.CLAIM_RISK: TaskSpec(text_column="", id_column="claim_id", date_column="report_date", row_name="claim"),
    Task.SENTIMENT: TaskSpec(text_column="text", id_column="message_id", date_column="sent_at", row_name="message"),
}
