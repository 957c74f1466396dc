"""Length-bucketed batching and padding: every row once per epoch, reproducible, little
padding; progress reports timed by the clock, and early stopping ending its phase complete."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from accelerate import Accelerator
from torch import nn

from core.run_spec import TrainingConfig
from training import loop
from training.loop import BucketBatchSampler, Cancelled, Progress, RowDataset, collate, fit


def skewed_lengths(n: int = 1_000, seed: int = 0) -> np.ndarray:
    """Text lengths like real narratives: mostly short, a long tail."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.lognormal(3.0, 0.8, n).astype(int), 2, 512)


def one_epoch(sampler: BucketBatchSampler) -> list[list[int]]:
    return list(iter(sampler))


@pytest.mark.parametrize(("n", "batch_size"), [(1_000, 16), (1_000, 64), (37, 8), (5, 16)])
def test_every_row_appears_exactly_once_per_epoch_in_batches_no_larger_than_batch_size(n: int, batch_size: int) -> None:
    sampler = BucketBatchSampler(skewed_lengths(n), batch_size, seed=3)
    for _ in range(3):
        batches = one_epoch(sampler)
        assert sorted(i for batch in batches for i in batch) == list(range(n))
        assert all(1 <= len(batch) <= batch_size for batch in batches)
        assert len(batches) == len(sampler)  # the DataLoader's step count (and the LR schedule) rely on it


def test_each_epoch_has_a_different_order_and_the_same_seed_repeats_it() -> None:
    lengths = skewed_lengths()
    first = BucketBatchSampler(lengths, 32, seed=7)
    second = BucketBatchSampler(lengths, 32, seed=7)
    first_epochs = [one_epoch(first) for _ in range(3)]
    second_epochs = [one_epoch(second) for _ in range(3)]
    assert first_epochs == second_epochs
    assert first_epochs[0] != first_epochs[1] != first_epochs[2]
    assert one_epoch(BucketBatchSampler(lengths, 32, seed=8)) != first_epochs[0]


def test_set_epoch_replays_that_epochs_order() -> None:
    sampler = BucketBatchSampler(skewed_lengths(), 32, seed=7)
    epochs = [one_epoch(sampler) for _ in range(3)]
    sampler.set_epoch(1)
    assert one_epoch(sampler) == epochs[1]


def test_bucketed_batches_pad_far_less_than_random_batches_on_skewed_lengths() -> None:
    lengths = skewed_lengths(2_000)
    batch_size = 32
    bucketed = one_epoch(BucketBatchSampler(lengths, batch_size, seed=1))
    order = np.random.default_rng(1).permutation(len(lengths))
    random_batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

    def mean_spread(batches: list) -> float:  # type: ignore[type-arg]
        return float(np.mean([np.ptp(lengths[np.asarray(batch)]) for batch in batches]))

    def padded_tokens(batches: list) -> int:  # type: ignore[type-arg]
        return int(sum(len(batch) * lengths[np.asarray(batch)].max() for batch in batches))

    assert mean_spread(bucketed) < mean_spread(random_batches) / 4
    assert padded_tokens(bucketed) < 0.75 * padded_tokens(random_batches)


def test_without_shuffle_batches_follow_length_order_inside_each_window() -> None:
    lengths = np.array([5, 1, 4, 2, 3, 9, 7])
    batches = one_epoch(BucketBatchSampler(lengths, 2, seed=0, shuffle=False))
    assert batches == [[1, 3], [4, 2], [0, 6], [5]]
    assert batches == one_epoch(BucketBatchSampler(lengths, 2, seed=0, shuffle=False))


def test_collate_pads_with_the_pad_id_and_masks_exactly_the_real_tokens() -> None:
    rows = [
        {"input_ids": [101, 7, 102], "fields": np.array([0.5, 1.0], dtype=np.float32), "label": 1},
        {"input_ids": [101], "fields": np.array([0.0, -1.0], dtype=np.float32), "label": 0},
        {"input_ids": [101, 8, 9, 10, 102], "fields": np.array([2.0, 3.0], dtype=np.float32), "label": 1},
    ]
    batch = collate(rows, pad_id=77)
    assert batch["input_ids"].shape == (3, 5) and batch["input_ids"].dtype == torch.long
    assert batch["input_ids"].tolist() == [[101, 7, 102, 77, 77], [101, 77, 77, 77, 77], [101, 8, 9, 10, 102]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]]
    assert batch["attention_mask"].sum(dim=1).tolist() == [3, 1, 5]
    assert torch.equal(batch["fields"], torch.tensor([[0.5, 1.0], [0.0, -1.0], [2.0, 3.0]]))
    assert batch["label"].tolist() == [1, 0, 1]


def test_collate_keeps_real_tokens_equal_to_the_pad_id_visible_to_the_mask() -> None:
    batch = collate([{"input_ids": [0, 5, 0]}, {"input_ids": [0]}], pad_id=0)
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_collate_of_rows_without_text_stacks_only_the_other_columns() -> None:
    batch = collate([{"embedding": np.ones(4, dtype=np.float32), "label": 2}, {"embedding": np.zeros(4), "label": 0}])
    assert set(batch) == {"embedding", "label"}
    assert batch["embedding"].shape == (2, 4) and batch["label"].tolist() == [2, 0]


def test_row_dataset_lengths_drive_the_sampler_and_rows_come_back_whole() -> None:
    dataset = RowDataset({"input_ids": [[1, 2, 3], [4], [5, 6]], "label": np.array([1, 0, 1])})
    assert len(dataset) == 3 and dataset.lengths().tolist() == [3, 1, 2]
    assert dataset[2]["input_ids"] == [5, 6] and dataset[2]["label"] == 1
    no_text = RowDataset({"embedding": np.zeros((4, 2))})
    assert no_text.lengths().tolist() == [0, 0, 0, 0]


class _PlateauAdapter:
    """A linear model on fixed features whose validation metric never improves after epoch 1."""

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return nn.functional.mse_loss(model(batch["x"]).squeeze(-1), batch["y"])

    def validate(self, model: nn.Module) -> float:
        return 0.5


def _fit_until_early_stop(reports: list[Progress], answer: bool = True) -> None:
    """64 rows in batches of 8 (8 steps an epoch), up to 20 epochs, patience 2: stops after epoch 3."""
    rng = np.random.default_rng(0)
    rows = RowDataset({"x": rng.random((64, 3), dtype=np.float32), "y": rng.random(64, dtype=np.float32)})
    config = TrainingConfig(task="claim_risk", epochs=20, batch_size=8, patience=2)

    def record(progress: Progress) -> bool:
        reports.append(progress)
        return answer

    torch.manual_seed(0)
    fit(nn.Linear(3, 1), rows, _PlateauAdapter(), config, Accelerator(), record)


def test_early_stopping_ends_the_training_phase_complete_at_the_steps_it_took() -> None:
    reports: list[Progress] = []
    _fit_until_early_stop(reports)
    first, last = reports[0], reports[-1]
    assert (first.phase, first.done, first.total, first.epoch, first.epochs) == ("training", 0, 160, 0, 20)
    assert (last.phase, last.done, last.total, last.epoch, last.stopped_early) == ("training", 24, 24, 3, True)
    assert last.eta_s == 0.0 and last.best_metric == 0.5
    assert [r.done >= r.total for r in reports].count(True) == 1  # nothing before the stop claims to be complete
    assert all(r.total == 160 and not r.stopped_early for r in reports[:-1])


def test_progress_is_reported_by_the_clock_not_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    every_step: list[Progress] = []
    monkeypatch.setattr(loop, "REPORT_SECONDS", 0.0)
    _fit_until_early_stop(every_step)
    assert len(every_step) == 1 + 24 + 3  # the start, each step, each epoch's end
    monkeypatch.setattr(loop, "REPORT_SECONDS", 3600.0)
    hourly: list[Progress] = []
    _fit_until_early_stop(hourly)
    assert [r.epoch for r in hourly] == [0, 1, 2, 3]  # the start and the epoch ends only


def test_a_cancel_answered_at_the_start_of_training_stops_before_the_first_step() -> None:
    reports: list[Progress] = []
    with pytest.raises(Cancelled):
        _fit_until_early_stop(reports, answer=False)
    assert [(r.phase, r.done) for r in reports] == [("training", 0)]
