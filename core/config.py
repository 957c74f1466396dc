"""The one typed settings object, read from the environment and `.env`.

`DATABASE_URL` keeps its conventional name; everything else is prefixed `CLAIMLENS_`.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite:///data/claimlens.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CLAIMLENS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        default=DEFAULT_SQLITE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "CLAIMLENS_DATABASE_URL"),
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host/db.",
    )
    model_dir: Path = Field(default=Path("models"), description="Where trained model folders live.")
    schema_path: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("CLAIMLENS_SCHEMA", "CLAIMLENS_SCHEMA_PATH"),
        description="The claim schema (TOML) of the insurer's claims; the demo's (schemas/demo.toml) when unset.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="Torch device; `auto` picks CUDA when present."
    )
    inference_precision: Literal["auto", "fp32", "bf16"] = Field(
        default="auto",
        description="Scoring/explanation precision; `auto` is bf16 on GPUs and on CPUs with AMX/AVX512-BF16.",
    )
    cpu_runtime: Literal["auto", "torch", "onnxruntime"] = Field(
        default="auto",
        description="What runs the text encoder on the CPU; `auto` is ONNX Runtime (float32) unless the "
        "precision is bf16 (then torch, whose bf16 autocast uses AMX/AVX512-BF16).",
    )
    sql_echo: bool = Field(default=False, description="Log every SQL statement (debugging).")
    worker_stale_seconds: int = Field(
        default=600, ge=1, description="A running job whose heartbeat is older than this is marked failed."
    )
    triage_risk_weight: float = Field(default=0.6, ge=0, description="Triage priority weight of the fraud probability.")
    triage_amount_weight: float = Field(default=0.25, ge=0, description="Triage priority weight of the claimed amount.")
    triage_wait_weight: float = Field(default=0.15, ge=0, description="Triage priority weight of time waiting.")
    triage_sla_days: int = Field(default=5, ge=1, description="Days a claim may wait for review before it is overdue.")
    login_max_failures: int = Field(default=5, ge=1, description="Failed logins in a row that lock an account.")
    login_lockout_minutes: int = Field(default=15, ge=1, description="How long a locked account stays locked.")
    login_admin_max_delay_seconds: int = Field(
        default=300,
        ge=1,
        description="Administrators are never locked out: after `login_max_failures` each failure makes the "
        "next attempt from the same address wait twice as long (1 s, 2 s, 4 s ...), up to this.",
    )
    session_hours: float = Field(default=8.0, gt=0, description="A signed-in session expires after this long.")
    session_idle_minutes: float = Field(
        default=30.0, gt=0, description="A signed-in session ends after this long without a click."
    )
    import_max_bytes: int = Field(
        default=500_000_000, ge=1, description="An import file larger than this (on disk) is refused."
    )
    import_max_rows: int = Field(default=2_000_000, ge=1, description="An import file with more rows is refused.")
    import_max_decoded_bytes: int = Field(
        default=1_000_000_000, ge=1, description="A Parquet file whose data would decode to more is refused."
    )
    import_earliest_date: date = Field(
        default=date(1900, 1, 1), description="Imported dates before this are refused as implausible."
    )
    drift_alpha: float = Field(
        default=0.01, gt=0, lt=1, description="Family-wise false-alarm rate of one drift report (Bonferroni)."
    )
    drift_psi: float = Field(default=0.1, gt=0, description="PSI at which a significant shift raises an alert.")
    drift_js_distance: float = Field(default=0.1, gt=0, description="Jensen-Shannon distance of a categorical field.")
    drift_wasserstein: float = Field(
        default=0.1, gt=0, description="Wasserstein distance, in reference standard deviations, of a probability shift."
    )
    drift_flag_rate_change: float = Field(default=0.05, gt=0, description="Change in the share of flagged claims.")
    drift_negative_share_change: float = Field(
        default=0.10, gt=0, description="Change in the share of negative messages."
    )
    drift_domain_auc: float = Field(
        default=0.6, gt=0.5, le=1, description="AUC of a classifier telling this window's narratives from training's."
    )
    drift_auc_drop: float = Field(default=0.05, gt=0, description="Drop in estimated ROC-AUC that raises an alert.")
    drift_min_rows: int = Field(default=100, ge=10, description="Smallest sample a drift verdict is given on.")
    gate_auc_margin: float = Field(
        default=0.01, ge=0, description="Promotion gate: how far a claim model's ROC-AUC may fall below its champion's."
    )
    gate_max_ece: float = Field(
        default=0.05, gt=0, description="Promotion gate: the highest expected calibration error of a claim model."
    )
    gate_f1_margin: float = Field(
        default=0.01,
        ge=0,
        description="Promotion gate: how far a sentiment model's macro-F1 may fall below its champion's.",
    )
    gate_baseline_margin: float = Field(
        default=0.0,
        ge=0,
        description="Promotion gate: how far a model may fall below its strongest baseline (fields or TF-IDF).",
    )
    drift_webhook_url: str | None = Field(default=None, description="POST each report's alerts here as JSON.")
    audit_checkpoint_key: str | None = Field(
        default=None, description="Signs audit checkpoints (HMAC-SHA256); keep it out of the database's reach."
    )

    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch  # deferred: importing torch costs seconds and most commands never need it

        return "cuda" if torch.cuda.is_available() else "cpu"


def default(name: str) -> Any:
    """A setting's default, for the code that owns the setting to declare its own defaults by."""
    return Settings.model_fields[name].default


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
