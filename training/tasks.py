"""Per-task training: build datasets and models, train, calibrate, pick thresholds.

Works on data frames (no database), so the same code runs from the worker, the CLI,
benchmarks and a GPU box. The frozen-encoder `head` method encodes every text once and
trains on the cached embeddings, which is what makes the quick profile fit on a CPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from accelerate import Accelerator
from peft import LoraConfig, get_peft_model
from torch import nn
from transformers import PreTrainedTokenizerBase, set_seed

from core import claim_store
from core.jobs import ENCODING
from core.modeling.encoder import TextEncoder, default_base_model, load_tokenizer
from core.modeling.features import FieldSpec
from core.modeling.models import (
    SENTIMENT_LABELS,
    ClaimRiskModel,
    ModelMeta,
    SentimentModel,
)
from core.run_spec import TrainingConfig
from core.schema import active_schema
from core.tasks import SPECS, Task
from training.calibration import fit_platt, fit_temperature, pick_thresholds
from training.loop import Progress, ProgressCallback, RowDataset, check_in, fit, predict_batches
from training.splits import Splits

# Texts per encoding batch; each batch ends with a progress report and a cancel check.
# Smaller batches would stop sooner but encode slower: on the 2-core CPU, batches of 64
# ran at 15 texts/s against 21 for 256 (same texts, same load).
ENCODE_BATCH = 256
MAX_POS_WEIGHT = 8.0


@dataclass
class TrainedModel:
    model: ClaimRiskModel | SentimentModel
    tokenizer: PreTrainedTokenizerBase
    meta: ModelMeta
    validation_metric: float
    test_scores: np.ndarray  # calibrated P(fraud), or class probabilities for sentiment
    train_seconds: float
    processes: int = 1  # data-parallel processes that trained it
    evaluation_started: float = 0.0  # time.perf_counter() when calibration began (progress timing)
    thresholds: dict[str, float] = field(default_factory=dict)  # claim risk's bands, registered with the version


def texts_of(frame: pd.DataFrame, task: str) -> list[str]:
    if Task(task) is Task.CLAIM_RISK:
        return claim_store.texts(frame).tolist()
    return frame[SPECS[Task(task)].text_column].fillna("").astype(str).tolist()


def tokenize(tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int) -> list[list[int]]:
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def sentiment_targets(frame: pd.DataFrame) -> np.ndarray:
    index = {label: i for i, label in enumerate(SENTIMENT_LABELS)}
    return frame["true_sentiment"].map(index).to_numpy(dtype=np.int64)


class _EncodingProgress:
    """Texts encoded so far across the splits, reported after every batch (each report is
    also a cancel check, so a cancel stops the encoding within one batch)."""

    def __init__(self, accelerator: Accelerator, on_progress: ProgressCallback | None, total: int) -> None:
        self.accelerator, self.on_progress, self.total, self.done = accelerator, on_progress, total, 0
        self.started = time.perf_counter()
        check_in(accelerator, on_progress, Progress(ENCODING, 0, total, 0.0))

    def __call__(self, rows: int) -> None:
        self.done += rows
        elapsed = time.perf_counter() - self.started
        check_in(self.accelerator, self.on_progress, Progress(ENCODING, self.done, self.total, elapsed))


class _Task:
    """Shared machinery; subclasses say how rows become tensors and what the loss is."""

    task: str

    def __init__(
        self, config: TrainingConfig, splits: Splits, accelerator: Accelerator,
        on_progress: ProgressCallback | None = None,
    ) -> None:  # fmt: skip
        self.config, self.splits, self.accelerator = config, splits, accelerator
        self.thresholds: dict[str, float] = {}  # fitted by `finish` where the task has bands
        self.base_model = config.base_model or default_base_model()
        self.tokenizer = load_tokenizer(self.base_model)
        self.encoder = TextEncoder.from_pretrained(self.base_model)
        self.pad_id = int(self.tokenizer.pad_token_id or 0)
        self.cached = config.method == "head"
        frames = {name: getattr(splits, name) for name in ("train", "validation", "test")}
        self.encoding = (
            _EncodingProgress(accelerator, on_progress, sum(len(frame) for frame in frames.values()))
            if self.cached
            else None
        )
        self.datasets = {name: self.dataset(frame) for name, frame in frames.items()}

    def dataset(self, frame: pd.DataFrame) -> RowDataset:
        ids = tokenize(self.tokenizer, texts_of(frame, self.task), self.config.max_length)
        columns: dict[str, Any] = {"input_ids": ids, **self.extra_columns(frame)}
        if self.cached:
            columns = {"embedding": self.embed(columns), **{k: v for k, v in columns.items() if k != "input_ids"}}
        return RowDataset(columns)

    def embed(self, columns: dict[str, Any]) -> np.ndarray:
        encoder = self.encoder.to(self.accelerator.device).eval()
        dataset = RowDataset({"input_ids": columns["input_ids"]})
        return predict_batches(
            lambda b: encoder(b["input_ids"], b["attention_mask"]),
            dataset, ENCODE_BATCH, self.accelerator.device, self.pad_id, bf16=self.config.bf16,
            after_batch=self.encoding,
        ).astype(np.float32)  # fmt: skip

    def prepare_encoder(self) -> None:
        if self.config.method == "head":
            self.encoder.requires_grad_(False)
        elif self.config.method == "lora":
            lora = LoraConfig(r=self.config.lora_rank, lora_alpha=2 * self.config.lora_rank, lora_dropout=0.05,
                              target_modules="all-linear")  # fmt: skip
            self.encoder.transformer = get_peft_model(self.encoder.transformer, lora)

    def inputs(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if "embedding" in batch:
            return {"text_embedding": batch["embedding"]}
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}

    def logits(self, model: nn.Module, name: str) -> np.ndarray:
        model.eval()
        return predict_batches(
            lambda b: self.forward(model, b), self.datasets[name], ENCODE_BATCH, self.accelerator.device,
            self.pad_id, bf16=self.config.bf16,
        )  # fmt: skip

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def validate(self, model: nn.Module) -> float:
        raise NotImplementedError

    def train(self, on_progress: ProgressCallback | None) -> tuple[nn.Module, float]:
        set_seed(self.config.seed)
        self.prepare_encoder()
        model = self.build()
        return fit(model, self.datasets["train"], self, self.config, self.accelerator, on_progress, self.pad_id)

    # Subclass hooks
    def extra_columns(self, frame: pd.DataFrame) -> dict[str, Any]:
        raise NotImplementedError

    def build(self) -> nn.Module:
        raise NotImplementedError

    def forward(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError


class ClaimTask(_Task):
    task = Task.CLAIM_RISK

    def __init__(
        self, config: TrainingConfig, splits: Splits, accelerator: Accelerator,
        on_progress: ProgressCallback | None = None,
    ) -> None:  # fmt: skip
        self.spec = FieldSpec.fit(splits.train)
        labels = splits.train["label"].to_numpy()
        positives = max(int(labels.sum()), 1)
        # Class imbalance: weight the rare fraud class; Platt scaling undoes the shift afterwards.
        self.pos_weight = min((len(labels) - positives) / positives, MAX_POS_WEIGHT)
        super().__init__(config, splits, accelerator, on_progress)

    def extra_columns(self, frame: pd.DataFrame) -> dict[str, Any]:
        return {"fields": self.spec.encode(frame), "label": frame["label"].to_numpy(dtype=np.float32)}

    def build(self) -> nn.Module:
        return ClaimRiskModel(self.encoder, self.spec.width)

    def forward(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model(fields=batch["fields"], **self.inputs(batch))

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = self.forward(model, batch).float()
        weight = torch.tensor(self.pos_weight, device=logits.device)
        return nn.functional.binary_cross_entropy_with_logits(logits, batch["label"], pos_weight=weight)

    def validate(self, model: nn.Module) -> float:
        from sklearn.metrics import roc_auc_score

        return float(roc_auc_score(self.splits.validation["label"], self.logits(model, "validation")))

    def finish(self, model: ClaimRiskModel) -> tuple[ModelMeta, np.ndarray]:
        scale, bias = fit_platt(self.logits(model, "validation"), self.splits.validation["label"].to_numpy())
        model.calibration.copy_(torch.tensor([scale, bias]))
        validation_p = _sigmoid(self.logits(model, "validation") * scale + bias)
        self.thresholds = pick_thresholds(self.splits.validation["label"].to_numpy(), validation_p)
        trained_on = active_schema()
        meta = ModelMeta(task=self.task, base_model=self.base_model, method=self.config.method,
                         max_length=self.config.max_length, labels=["not_fraud", "fraud"],
                         field_spec=self.spec.to_dict(), schema_fingerprint=trained_on.fingerprint(),
                         schema=trained_on.model_dump(mode="json"))  # fmt: skip
        return meta, _sigmoid(self.logits(model, "test") * scale + bias)


class SentimentTask(_Task):
    task = Task.SENTIMENT

    def __init__(
        self, config: TrainingConfig, splits: Splits, accelerator: Accelerator,
        on_progress: ProgressCallback | None = None,
    ) -> None:  # fmt: skip
        counts = np.bincount(sentiment_targets(splits.train), minlength=len(SENTIMENT_LABELS)).astype(float)
        self.class_weights = torch.tensor(counts.sum() / (len(counts) * np.maximum(counts, 1.0)), dtype=torch.float32)
        super().__init__(config, splits, accelerator, on_progress)

    def extra_columns(self, frame: pd.DataFrame) -> dict[str, Any]:
        return {"label": sentiment_targets(frame)}

    def build(self) -> nn.Module:
        return SentimentModel(self.encoder, len(SENTIMENT_LABELS))

    def forward(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model(**self.inputs(batch))

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = self.forward(model, batch).float()
        weight = self.class_weights.to(logits.device)
        return nn.functional.cross_entropy(logits, batch["label"], weight=weight)

    def validate(self, model: nn.Module) -> float:
        from sklearn.metrics import f1_score

        predicted = self.logits(model, "validation").argmax(axis=1)
        return float(f1_score(sentiment_targets(self.splits.validation), predicted, average="macro"))

    def finish(self, model: SentimentModel) -> tuple[ModelMeta, np.ndarray]:
        inverse_temperature = fit_temperature(
            self.logits(model, "validation"), sentiment_targets(self.splits.validation)
        )
        model.calibration.copy_(torch.tensor([inverse_temperature, 0.0]))
        meta = ModelMeta(task=self.task, base_model=self.base_model, method=self.config.method,
                         max_length=self.config.max_length, labels=list(SENTIMENT_LABELS))  # fmt: skip
        return meta, _softmax(self.logits(model, "test") * inverse_temperature)


def train_task(
    config: TrainingConfig, splits: Splits, on_progress: ProgressCallback | None = None,
    accelerator: Accelerator | None = None,
) -> TrainedModel:  # fmt: skip
    started = time.perf_counter()
    accelerator = accelerator or Accelerator(cpu=_force_cpu(config))
    task_cls = ClaimTask if config.task == Task.CLAIM_RISK else SentimentTask
    task = task_cls(config, splits, accelerator, on_progress)
    model, metric = task.train(on_progress)
    evaluation_started = time.perf_counter()
    check_in(accelerator, on_progress, Progress.evaluating("calibrating", 0.0))
    meta, test_scores = task.finish(model)  # type: ignore[arg-type]
    model.to("cpu").eval()
    seconds = time.perf_counter() - started
    return TrainedModel(model, task.tokenizer, meta, metric, test_scores, seconds, accelerator.num_processes,  # type: ignore[arg-type]
                        evaluation_started, task.thresholds)  # fmt: skip


def _force_cpu(config: TrainingConfig) -> bool:
    from core.config import get_settings

    return get_settings().device == "cpu"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
