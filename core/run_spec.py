"""A training run's specification: one validated dataclass, with named profiles.

It lives in core, not in `training/`: a manager's choices become one when a run is queued
(`core.jobs`), the Models page offers its methods and profiles, and training carries it out.

`quick` fits both models on a 2-core CPU in a few minutes (frozen encoder, cached
embeddings, head trained for many epochs); `full` is for a GPU (full fine-tuning, bf16
autocast, large length-bucketed batches, fused AdamW).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date
from typing import Any, Literal

from core.errors import InvalidInput
from core.tasks import Task

Method = Literal["full", "lora", "head"]
Profile = Literal["quick", "full"]
METHODS: tuple[str, ...] = ("full", "lora", "head")
PROFILES: tuple[str, ...] = ("quick", "full")


@dataclass
class TrainingConfig:
    task: str = field(metadata={"help": "claim_risk or sentiment"})
    method: str = field(default="head", metadata={"help": "full | lora | head (frozen encoder)"})
    profile: str = field(default="quick", metadata={"help": "quick (CPU demo) | full (GPU)"})
    base_model: str | None = field(default=None, metadata={"help": "local HF folder or hub id; default MiniLM"})
    epochs: int = field(default=40, metadata={"help": "maximum epochs (early stopping may end sooner)"})
    batch_size: int = field(default=64, metadata={"help": "training batch size per process"})
    learning_rate: float = field(default=1e-3, metadata={"help": "peak learning rate of the head"})
    encoder_learning_rate: float = field(default=5e-5, metadata={"help": "peak learning rate of the encoder"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    warmup_ratio: float = field(default=0.06, metadata={"help": "share of steps with linear warm-up"})
    patience: int = field(default=5, metadata={"help": "epochs without validation gain before stopping"})
    max_length: int = field(default=128, metadata={"help": "tokens per text (longer texts are truncated)"})
    max_train_samples: int | None = field(default=None, metadata={"help": "cap on training rows (newest kept)"})
    validation_share: float = field(default=0.15, metadata={"help": "share of rows (by time) for validation"})
    test_share: float = field(default=0.15, metadata={"help": "share of rows (latest in time) for test"})
    lora_rank: int = field(default=16, metadata={"help": "LoRA rank"})
    seed: int = field(default=13, metadata={"help": "random seed"})
    since: date | None = field(default=None, metadata={"help": "first report date of the data window"})
    until: date | None = field(default=None, metadata={"help": "last report date of the data window"})
    bf16: bool = field(default=True, metadata={"help": "bf16 autocast on CUDA (ignored on CPU)"})

    def __post_init__(self) -> None:
        if self.task not in tuple(Task):
            raise InvalidInput(f"unknown task {self.task!r}; choose one of {', '.join(Task)}")
        if self.method not in METHODS:
            raise InvalidInput(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.profile not in PROFILES:
            raise InvalidInput(f"unknown profile {self.profile!r}; choose one of {', '.join(PROFILES)}")
        if self.epochs < 1 or self.batch_size < 1 or self.max_length < 8:
            raise InvalidInput("epochs and batch_size must be positive and max_length at least 8")
        if not 0 < self.validation_share < 0.5 or not 0 < self.test_share < 0.5:
            raise InvalidInput("validation_share and test_share must lie between 0 and 0.5")
        if self.since and self.until and self.since > self.until:
            raise InvalidInput("--since is after --until")

    @classmethod
    def for_profile(
        cls, task: str, profile: str = "quick", method: str | None = None, **overrides: Any
    ) -> TrainingConfig:
        """Profile defaults, then the chosen method's defaults, then explicit overrides."""
        base = PROFILE_DEFAULTS.get(profile)
        if base is None:
            raise InvalidInput(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        chosen = method or base["method"]
        values = {**base, **METHOD_DEFAULTS.get(chosen, {}), "method": chosen}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(task=task, profile=profile, **values)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("since", "until"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("since", "until"):
            if isinstance(values.get(key), str):
                values[key] = date.fromisoformat(values[key])
        return cls(**values)

    def with_changes(self, **changes: Any) -> TrainingConfig:
        return replace(self, **changes)


PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    "quick": {"method": "head", "epochs": 60, "batch_size": 128, "max_length": 128, "max_train_samples": 6000},
    # Measured on an H200 (README: model quality): batch 128 beat 256 at the same wall time.
    "full": {"method": "full", "epochs": 10, "batch_size": 128, "max_length": 192, "patience": 3},
}
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    "head": {"learning_rate": 2e-3, "patience": 8},
    "lora": {"learning_rate": 1e-3, "encoder_learning_rate": 5e-4},
    "full": {"learning_rate": 1e-3, "encoder_learning_rate": 1e-4},
}
