"""The training loop: length-bucketed dynamic padding, AdamW with linear warm-up/decay,
bf16 autocast and fused AdamW on CUDA, early stopping on the validation metric, and
data parallelism through `accelerate` (the same code under `accelerate launch`).

Task specifics (inputs, loss, validation metric) come from a `TaskAdapter`.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from transformers import get_linear_schedule_with_warmup

from core.jobs import EVALUATING, TRAINING
from core.modeling.batching import in_length_order, pad
from core.run_spec import TrainingConfig

BUCKET_MULTIPLIER = 50  # sort by length inside windows of this many batches
# Between progress reports (each one also a cancel check): seconds in one process; steps
# under `accelerate launch`, where every process must reach the same reduction together.
REPORT_SECONDS = 1.0
PROGRESS_EVERY = 10

# In a run's phases (core.jobs.PHASES), `done` / `total` count texts while encoding,
# optimiser steps while training, and the stages of EVALUATION_STAGES while evaluating.
EVALUATION_STAGES = ("calibrating", "metrics and baselines", "comparing with the champion", "saving")


@dataclass
class Progress:
    """Where a run stands: its phase, `done` of `total` in it, seconds spent in it, and
    while training the epoch and metrics. A run stopped early by early stopping reports
    its last step with `total` cut to that step and `stopped_early` set."""

    phase: str
    done: int
    total: int
    elapsed_s: float
    epoch: int | None = None
    epochs: int | None = None
    loss: float | None = None
    validation_metric: float | None = None
    best_metric: float | None = None
    stopped_early: bool = False
    stage: str | None = None  # the evaluation stage under way

    @property
    def eta_s(self) -> float | None:
        """Seconds left in this phase at its rate so far (while training an upper bound:
        early stopping may end it sooner); None until something is done."""
        if self.done <= 0 or self.elapsed_s <= 0:
            return None
        return self.elapsed_s / self.done * max(self.total - self.done, 0)

    def to_dict(self) -> dict[str, Any]:
        eta = self.eta_s
        values = {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}
        return {**values, "eta_s": None if eta is None else round(eta, 1)}

    @classmethod
    def evaluating(cls, stage: str, elapsed_s: float) -> Progress:
        return cls(EVALUATING, EVALUATION_STAGES.index(stage), len(EVALUATION_STAGES), elapsed_s, stage=stage)


# Returns False to ask the loop to stop (a cancel request); checked between batches.
ProgressCallback = Callable[[Progress], bool]


class Cancelled(Exception):
    pass


class TaskAdapter(Protocol):
    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...
    def validate(self, model: nn.Module) -> float: ...


class RowDataset(Dataset[dict[str, Any]]):
    """Rows as dicts of numpy arrays; `input_ids` (when present) are unpadded lists."""

    def __init__(self, columns: dict[str, Any]) -> None:
        self.columns = columns
        self.length = len(next(iter(columns.values())))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {name: values[index] for name, values in self.columns.items()}

    def lengths(self) -> np.ndarray:
        if "input_ids" in self.columns:
            return np.array([len(ids) for ids in self.columns["input_ids"]])
        return np.zeros(self.length, dtype=int)


class BucketBatchSampler(Sampler[list[int]]):
    """Shuffled batches of similar-length rows, so padding stays small."""

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int, shuffle: bool = True) -> None:
        self.lengths, self.batch_size, self.seed, self.shuffle = lengths, batch_size, seed, shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng(self.seed + self.epoch)
        order = rng.permutation(len(self.lengths)) if self.shuffle else np.arange(len(self.lengths))
        window = self.batch_size * BUCKET_MULTIPLIER
        batches: list[list[int]] = []
        for start in range(0, len(order), window):
            chunk = order[start : start + window]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches.extend(chunk[i : i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size))
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        self.epoch += 1
        return iter(batches)

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)


def collate(rows: Sequence[dict[str, Any]], pad_id: int = 0) -> dict[str, torch.Tensor]:
    batch: dict[str, torch.Tensor] = {}
    if "input_ids" in rows[0]:
        batch["input_ids"], batch["attention_mask"] = pad([row["input_ids"] for row in rows], pad_id)
    for name in rows[0]:
        if name != "input_ids":
            batch[name] = torch.as_tensor(np.stack([row[name] for row in rows]))
    return batch


def build_optimizer(model: nn.Module, config: TrainingConfig, device: torch.device) -> torch.optim.Optimizer:
    """AdamW; no decay on biases and norms; the encoder gets its own (lower) rate."""
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        is_encoder = name.startswith("encoder.") or ".encoder." in name
        decays = parameter.ndim > 1 and "norm" not in name.lower()
        groups.setdefault((is_encoder, decays), []).append(parameter)
    param_groups = [
        {
            "params": params,
            "lr": config.encoder_learning_rate if is_encoder else config.learning_rate,
            "weight_decay": config.weight_decay if decays else 0.0,
        }
        for (is_encoder, decays), params in groups.items()
    ]
    return torch.optim.AdamW(param_groups, fused=device.type == "cuda")


def fit(
    model: nn.Module,
    dataset: RowDataset,
    adapter: TaskAdapter,
    config: TrainingConfig,
    accelerator: Accelerator,
    on_progress: ProgressCallback | None = None,
    pad_id: int = 0,
) -> tuple[nn.Module, float]:
    """Train with early stopping; return the best model (by validation metric) and its metric."""
    sampler = BucketBatchSampler(dataset.lengths(), config.batch_size, config.seed)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=lambda rows: collate(rows, pad_id))
    optimizer = build_optimizer(model, config, accelerator.device)
    total_steps = len(loader) * config.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total_steps * config.warmup_ratio), total_steps)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    use_bf16 = config.bf16 and accelerator.device.type == "cuda"
    best_metric, best_state, stale, step = -math.inf, None, 0, 0
    reporting = on_progress is not None or accelerator.num_processes > 1
    started = last_report = time.perf_counter()
    check_in(accelerator, on_progress, Progress(TRAINING, 0, total_steps, 0.0, epoch=0, epochs=config.epochs))
    for epoch in range(1, config.epochs + 1):
        model.train()
        # Loss stays on the device and is read only when reported: a read per step would
        # synchronise the GPU every step.
        running, seen = torch.zeros((), device=accelerator.device), 0
        for batch in loader:
            with torch.autocast(accelerator.device.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss = adapter.loss(model, batch)
            accelerator.backward(loss)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            running, seen = running + loss.detach().float(), seen + 1
            if reporting and _report_due(accelerator, step, last_report):
                last_report = time.perf_counter()
                progress = Progress(TRAINING, step, total_steps, last_report - started, epoch, config.epochs,
                                    float(running) / seen, None, _finite(best_metric))  # fmt: skip
                check_in(accelerator, on_progress, progress)
        metric = adapter.validate(accelerator.unwrap_model(model))
        if metric > best_metric + 1e-4:
            best_metric, stale = metric, 0
            best_state = copy.deepcopy(
                {k: v.detach().cpu() for k, v in accelerator.unwrap_model(model).state_dict().items()}
            )
        else:
            stale += 1
        stopping = stale >= config.patience
        # Early stopping ends the phase here: its last report says so and counts the steps
        # actually taken as the total, so whatever shows it ends complete.
        progress = Progress(TRAINING, step, step if stopping else total_steps, time.perf_counter() - started, epoch,
                            config.epochs, float(running) / max(seen, 1), metric, best_metric, stopping)  # fmt: skip
        check_in(accelerator, on_progress, progress)
        last_report = time.perf_counter()
        if stopping:
            break
    unwrapped = accelerator.unwrap_model(model)
    if best_state is not None:
        unwrapped.load_state_dict(best_state)
    return unwrapped, best_metric


def _report_due(accelerator: Accelerator, step: int, last_report: float) -> bool:
    if accelerator.num_processes > 1:
        return step % PROGRESS_EVERY == 0
    return time.perf_counter() - last_report >= REPORT_SECONDS


def check_in(accelerator: Accelerator, on_progress: ProgressCallback | None, progress: Progress) -> None:
    """Report progress; stop every process together when a cancel was requested.

    Only the main process gets a callback under `accelerate launch`; the others learn
    its answer through a reduction, so no rank is left waiting in an all-reduce.
    """
    keep_going = on_progress(progress) if on_progress else True
    if accelerator.num_processes > 1:
        flag = torch.tensor([1 if keep_going else 0], device=accelerator.device)
        keep_going = bool(accelerator.reduce(flag, reduction="min").item())
    if not keep_going:
        raise Cancelled("cancelled by request")


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@torch.no_grad()
def predict_batches(
    forward: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    dataset: RowDataset,
    batch_size: int,
    device: torch.device,
    pad_id: int = 0,
    bf16: bool = False,
    after_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Run `forward` over the dataset in length-sorted batches; outputs in the original order.
    `after_batch` hears each batch's row count (progress; it may raise `Cancelled`)."""

    def run(indexes: np.ndarray) -> np.ndarray:
        rows = [dataset[int(i)] for i in indexes]
        batch = {k: v.to(device, non_blocking=True) for k, v in collate(rows, pad_id).items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16 and device.type == "cuda"):
            output = forward(batch).float().cpu().numpy()
        if after_batch is not None:
            after_batch(len(indexes))
        return output

    return in_length_order(dataset.lengths(), batch_size, run)
