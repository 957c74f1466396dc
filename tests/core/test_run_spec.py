"""Training configuration: profile, then method defaults, then explicit overrides; bad input is refused."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from core.errors import InvalidInput
from core.run_spec import METHOD_DEFAULTS, PROFILE_DEFAULTS, TrainingConfig


def test_quick_profile_uses_the_head_method_and_its_defaults() -> None:
    config = TrainingConfig.for_profile("claim_risk")
    assert (config.task, config.profile, config.method) == ("claim_risk", "quick", "head")
    assert (config.epochs, config.batch_size, config.max_length, config.max_train_samples) == (60, 128, 128, 6000)
    assert (config.learning_rate, config.patience) == (2e-3, 8)  # from the head method's defaults


def test_full_profile_uses_full_fine_tuning_and_its_learning_rates() -> None:
    config = TrainingConfig.for_profile("sentiment", "full")
    full = PROFILE_DEFAULTS["full"]
    assert (config.method, config.epochs, config.batch_size, config.max_length) == (
        "full", full["epochs"], full["batch_size"], full["max_length"]
    )  # fmt: skip
    assert config.encoder_learning_rate == METHOD_DEFAULTS["full"]["encoder_learning_rate"]
    assert config.encoder_learning_rate < config.learning_rate  # the pretrained encoder moves gently
    assert config.max_train_samples is None


def test_method_defaults_override_the_profile_and_untouched_profile_values_stay() -> None:
    config = TrainingConfig.for_profile("claim_risk", "full", "head")
    assert config.method == "head"
    assert config.patience == METHOD_DEFAULTS["head"]["patience"] != PROFILE_DEFAULTS["full"]["patience"]
    assert (config.epochs, config.batch_size) == (
        PROFILE_DEFAULTS["full"]["epochs"],
        PROFILE_DEFAULTS["full"]["batch_size"],
    )
    lora = TrainingConfig.for_profile("claim_risk", "quick", "lora")
    assert (lora.method, lora.learning_rate, lora.encoder_learning_rate, lora.epochs) == ("lora", 1e-3, 5e-4, 60)


def test_explicit_overrides_win_over_method_and_profile_and_none_means_keep_the_default() -> None:
    config = TrainingConfig.for_profile(
        "claim_risk", "full", "lora", learning_rate=3e-4, patience=1, epochs=None, max_train_samples=500
    )
    assert (config.learning_rate, config.patience, config.max_train_samples) == (3e-4, 1, 500)
    assert config.epochs == PROFILE_DEFAULTS["full"]["epochs"]
    assert config.encoder_learning_rate == METHOD_DEFAULTS["lora"]["encoder_learning_rate"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"task": "fraud"}, "unknown task 'fraud'"),
        ({"task": "claim_risk", "method": "xgboost"}, "unknown method 'xgboost'"),
        ({"task": "claim_risk", "profile": "medium"}, "unknown profile 'medium'"),
        ({"task": "claim_risk", "since": date(2026, 5, 2), "until": date(2026, 5, 1)}, "--since is after --until"),
        ({"task": "claim_risk", "epochs": 0}, "must be positive"),
        ({"task": "claim_risk", "max_length": 4}, "max_length at least 8"),
        ({"task": "claim_risk", "validation_share": 0.5}, "between 0 and 0.5"),
    ],
)
def test_invalid_values_are_refused_with_a_message_naming_the_problem(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        TrainingConfig(**arguments)


@pytest.mark.parametrize(
    ("task", "profile", "method", "message"),
    [
        ("fraud", "quick", None, "unknown task"),
        ("claim_risk", "medium", None, "unknown profile 'medium'; choose one of quick, full"),
        ("claim_risk", "quick", "xgboost", "unknown method 'xgboost'; choose one of full, lora, head"),
    ],
)
def test_for_profile_refuses_unknown_task_profile_or_method(
    task: str, profile: str, method: str | None, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        TrainingConfig.for_profile(task, profile, method)


def test_for_profile_refuses_a_window_that_ends_before_it_starts() -> None:
    with pytest.raises(InvalidInput, match="--since is after --until"):
        TrainingConfig.for_profile("claim_risk", since=date(2026, 2, 1), until=date(2026, 1, 31))
    same_day = TrainingConfig.for_profile("claim_risk", since=date(2026, 2, 1), until=date(2026, 2, 1))
    assert same_day.since == same_day.until == date(2026, 2, 1)


def test_config_round_trips_through_json_including_the_date_window() -> None:
    config = TrainingConfig.for_profile(
        "sentiment", "full", "lora", since=date(2025, 12, 1), until=date(2026, 3, 31), seed=99, base_model="/m"
    )
    stored = json.loads(json.dumps(config.to_dict()))  # what the training run row keeps
    assert stored["since"] == "2025-12-01" and stored["until"] == "2026-03-31"
    restored = TrainingConfig.from_dict(stored)
    assert restored == config
    assert isinstance(restored.since, date) and restored.until == date(2026, 3, 31)


def test_config_without_dates_round_trips_and_unknown_stored_keys_are_ignored() -> None:
    config = TrainingConfig(task="claim_risk")
    data = config.to_dict()
    assert data["since"] is None and data["until"] is None
    assert TrainingConfig.from_dict({**data, "retired_option": 3}) == config


def test_from_dict_validates_like_the_constructor() -> None:
    data = TrainingConfig(task="claim_risk").to_dict()
    with pytest.raises(InvalidInput, match="unknown method"):
        TrainingConfig.from_dict({**data, "method": "magic"})
