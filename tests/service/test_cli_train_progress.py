"""`claimlens train`'s progress bars: one per phase, each timed from its own start, and a
phase ended by early stopping shown complete."""

from __future__ import annotations

import io
import re
import time

from service.cli import PhaseBars
from training.loop import Progress


def last_line(output: str, phase: str) -> str:
    return [line for line in re.split(r"[\r\n]", output) if f" {phase}:" in line][-1]


def encode_and_start_training(bars: PhaseBars) -> float:
    bars(Progress("preparing", 0, 0, 0.0))
    for done in (0, 4096, 8512):
        bars(Progress("encoding", done, 8512, done / 30))
    encoded_at = time.time()
    bars(Progress("training", 0, 1140, 0.0, epoch=0, epochs=60))
    return encoded_at


def test_early_stopping_ends_the_training_bar_full_and_training_is_timed_apart_from_encoding() -> None:
    output = io.StringIO()
    bars = PhaseBars("claim_risk run 1", file=output)
    encoded_at = encode_and_start_training(bars)
    assert bars.bar is not None and bars.bar.start_t >= encoded_at  # its rate and ETA count training time only
    bars(Progress("training", 100, 1140, 1.0, epoch=5, epochs=60, loss=0.61, best_metric=0.85))
    bars(Progress("training", 266, 266, 2.6, epoch=14, epochs=60, loss=0.49, best_metric=0.886, stopped_early=True))
    for stage in ("calibrating", "metrics and baselines", "comparing with the champion", "saving"):
        bars(Progress.evaluating(stage, 1.0))
    bars.close(finished=True)
    text = output.getvalue()
    assert "8512/8512" in last_line(text, "encoding")
    training = last_line(text, "training")
    assert "100%" in training and "266/266" in training and "1140" not in training
    assert "epoch 14/60, loss 0.4900, best 0.886" in training
    assert "4/4" in last_line(text, "evaluating")


def test_a_run_that_did_not_finish_leaves_its_bar_where_it_stopped() -> None:
    output = io.StringIO()
    bars = PhaseBars("claim_risk run 2", file=output)
    encode_and_start_training(bars)
    bars(Progress("training", 100, 1140, 1.0, epoch=5, epochs=60, loss=0.61, best_metric=0.85))
    bars.close(finished=False)
    assert "100/1140" in last_line(output.getvalue(), "training")
