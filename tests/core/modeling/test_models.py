"""Model folders: what is saved scores exactly like what was trained; broken folders fail clearly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from core.data.generator import GeneratorConfig, generate
from core.errors import InvalidInput
from core.modeling.encoder import TextEncoder, load_tokenizer
from core.modeling.features import OTHER, FieldSpec
from core.modeling.inference import claim_probabilities, message_probabilities
from core.modeling.models import (
    FORMAT_VERSION,
    SENTIMENT_LABELS,
    ClaimRiskModel,
    LoadedModel,
    ModelMeta,
    SentimentModel,
    load_model,
    save_model,
)
from core.schema import active_schema
from core.tasks import Task


@pytest.fixture(scope="module")
def claims() -> pd.DataFrame:
    return generate(GeneratorConfig(claims=200, seed=1)).claims


@pytest.fixture(scope="module")
def messages() -> pd.DataFrame:
    return generate(GeneratorConfig(claims=60, seed=1)).messages


@pytest.fixture(scope="module")
def spec(claims: pd.DataFrame) -> FieldSpec:
    return FieldSpec.fit(claims)


def claim_model_in_memory(tiny_base_model: str, spec: FieldSpec, path: Path) -> LoadedModel:
    torch.manual_seed(5)
    model = ClaimRiskModel(TextEncoder.from_pretrained(tiny_base_model), spec.width)
    model.calibration = torch.tensor([1.7, -0.4])
    meta = ModelMeta(
        task=Task.CLAIM_RISK,
        base_model=tiny_base_model,
        method="head",
        max_length=48,
        labels=["honest", "fraud"],
        field_spec=spec.to_dict(),
    )
    return LoadedModel(model=model.eval(), tokenizer=load_tokenizer(tiny_base_model), meta=meta, path=path)


def sentiment_model_in_memory(tiny_base_model: str, path: Path) -> LoadedModel:
    torch.manual_seed(6)
    model = SentimentModel(TextEncoder.from_pretrained(tiny_base_model), len(SENTIMENT_LABELS))
    model.calibration = torch.tensor([0.4, 0.0])
    meta = ModelMeta(
        task=Task.SENTIMENT, base_model=tiny_base_model, method="head", max_length=48, labels=list(SENTIMENT_LABELS)
    )
    return LoadedModel(model=model.eval(), tokenizer=load_tokenizer(tiny_base_model), meta=meta, path=path)


def saved(loaded: LoadedModel) -> Path:
    save_model(loaded.path, loaded.model, loaded.tokenizer, loaded.meta)
    return loaded.path


# Loaded onto the CPU runtime under test; ONNX Runtime's fused float32 kernels round differently.
LOAD_TOLERANCE = {"torch": 1e-6, "onnxruntime": 1e-5}


@pytest.fixture(params=list(LOAD_TOLERANCE))
def cpu_runtime(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`CLAIMLENS_CPU_RUNTIME` for the test (the in-memory models it compares with run on torch)."""
    from core.config import get_settings

    monkeypatch.setenv("CLAIMLENS_CPU_RUNTIME", request.param)
    monkeypatch.setenv("CLAIMLENS_INFERENCE_PRECISION", "fp32")
    get_settings.cache_clear()
    yield request.param
    get_settings.cache_clear()


def test_saved_claim_model_scores_identically_after_loading(
    tiny_base_model: str, spec: FieldSpec, claims: pd.DataFrame, tmp_path: Path, cpu_runtime: str
) -> None:
    original = claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim")
    before = claim_probabilities(original, claims, batch_size=32)
    reloaded = load_model(saved(original))
    assert reloaded.runtime == cpu_runtime
    after = claim_probabilities(reloaded, claims, batch_size=32)
    assert before.shape == (len(claims),) and np.ptp(before) > 1e-4  # really depends on each claim
    np.testing.assert_allclose(after, before, atol=LOAD_TOLERANCE[cpu_runtime])
    assert not reloaded.model.training  # dropout off: scoring twice gives the same answer
    np.testing.assert_allclose(claim_probabilities(reloaded, claims, batch_size=7), after, atol=1e-6)


def test_claim_model_calibration_round_trips_through_model_json(
    tiny_base_model: str, spec: FieldSpec, tmp_path: Path
) -> None:
    reloaded = load_model(saved(claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim")))
    assert "thresholds" not in json.loads((reloaded.path / "model.json").read_text())  # the registry's, once
    assert reloaded.meta.calibration == pytest.approx({"scale": 1.7, "bias": -0.4})
    assert reloaded.model.calibration.tolist() == pytest.approx([1.7, -0.4])
    assert reloaded.meta.task == Task.CLAIM_RISK and reloaded.meta.max_length == 48
    assert reloaded.meta.format_version == FORMAT_VERSION
    assert reloaded.field_spec == spec
    assert isinstance(reloaded.model, ClaimRiskModel)
    assert {"model.json", "head.safetensors", "encoder"} <= {p.name for p in reloaded.path.iterdir()}


def test_calibration_changes_the_scores_so_the_round_trip_test_would_notice_it_missing(
    tiny_base_model: str, spec: FieldSpec, claims: pd.DataFrame, tmp_path: Path
) -> None:
    loaded = claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim")
    calibrated = claim_probabilities(loaded, claims.head(20))
    loaded.model.calibration = torch.tensor([1.0, 0.0])
    assert np.abs(claim_probabilities(loaded, claims.head(20)) - calibrated).max() > 1e-3


def test_saved_sentiment_model_scores_identically_and_rows_are_distributions(
    tiny_base_model: str, messages: pd.DataFrame, tmp_path: Path, cpu_runtime: str
) -> None:
    original = sentiment_model_in_memory(tiny_base_model, tmp_path / "sentiment")
    before = message_probabilities(original, messages, batch_size=16)
    reloaded = load_model(saved(original))
    after = message_probabilities(reloaded, messages, batch_size=16)
    assert after.shape == (len(messages), len(SENTIMENT_LABELS))
    np.testing.assert_allclose(after.sum(axis=1), 1.0, atol=1e-5)
    assert (after >= 0).all()
    np.testing.assert_allclose(after, before, atol=LOAD_TOLERANCE[cpu_runtime])
    assert isinstance(reloaded.model, SentimentModel)
    assert reloaded.meta.labels == list(SENTIMENT_LABELS)
    assert reloaded.meta.calibration["scale"] == pytest.approx(0.4)


def test_loading_a_missing_model_folder_is_a_clear_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"missing or incomplete \(no model.json\)"):
        load_model(tmp_path / "no-such-model")


def test_loading_a_folder_with_another_format_version_is_refused_with_both_versions(
    tiny_base_model: str, spec: FieldSpec, tmp_path: Path
) -> None:
    folder = saved(claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim"))
    meta = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(InvalidInput, match=f"has format 99, expected {FORMAT_VERSION}"):
        load_model(folder)


def test_loading_a_folder_whose_encoder_is_gone_is_a_clear_invalid_input(
    tiny_base_model: str, spec: FieldSpec, tmp_path: Path
) -> None:
    folder = saved(claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim"))
    for file in (folder / "encoder").iterdir():
        file.unlink()
    with pytest.raises(InvalidInput, match="cannot load an encoder"):
        load_model(folder)


def test_loading_a_folder_with_truncated_model_json_is_a_clear_invalid_input(
    tiny_base_model: str, spec: FieldSpec, tmp_path: Path
) -> None:
    folder = saved(claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim"))
    text = (folder / "model.json").read_text()
    (folder / "model.json").write_text(text[: len(text) // 2])
    with pytest.raises(InvalidInput):
        load_model(folder)


def test_loading_a_folder_without_head_weights_is_a_clear_invalid_input(
    tiny_base_model: str, spec: FieldSpec, tmp_path: Path
) -> None:
    folder = saved(claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim"))
    (folder / "head.safetensors").unlink()
    with pytest.raises(InvalidInput):
        load_model(folder)


def test_head_weights_that_do_not_fit_the_field_spec_are_a_clear_invalid_input(
    tiny_base_model: str, spec: FieldSpec, claims: pd.DataFrame, tmp_path: Path
) -> None:
    folder = saved(claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim"))
    narrower = FieldSpec.fit(claims[claims["line_of_business"] != "travel"])  # one column fewer
    assert narrower.width == spec.width - 1
    meta = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**meta, "field_spec": narrower.to_dict()}))
    with pytest.raises(InvalidInput, match=r"do not fit its model\.json"):
        load_model(folder)


def _encoded(spec: FieldSpec, encoding: str) -> list[str]:
    return [name for name, how in spec.fields if how == encoding]


def test_field_encoding_has_spec_width_and_one_column_group_per_field(spec: FieldSpec, claims: pd.DataFrame) -> None:
    encoded = spec.encode(claims)
    assert encoded.shape == (len(claims), spec.width) and encoded.dtype == np.float32
    assert np.isfinite(encoded).all()
    columns = spec.columns
    NUMERIC_FIELDS, CATEGORICAL_FIELDS = _encoded(spec, "number"), _encoded(spec, "category")
    assert set(columns) == {item.name for item in active_schema().model_fields_read}
    assert sorted(i for group in columns.values() for i in group) == list(range(spec.width))
    numeric = encoded[:, [columns[name][0] for name in NUMERIC_FIELDS]]
    np.testing.assert_allclose(numeric.mean(axis=0), 0.0, atol=1e-4)  # standardised on the fitted rows
    for name in CATEGORICAL_FIELDS:
        np.testing.assert_array_equal(encoded[:, columns[name]].sum(axis=1), 1.0)  # exactly one-hot


def test_unseen_category_values_fall_into_the_other_column_without_error(spec: FieldSpec, claims: pd.DataFrame) -> None:
    strange = claims.head(3).copy()
    strange["region"] = ["atlantis", "mars", "north"]
    strange["channel"] = ["carrier pigeon", "PHONE", "web"]
    encoded = spec.encode(strange)
    region, channel = spec.columns["region"], spec.columns["channel"]
    other_region = region[spec.vocab["region"].index(OTHER)]
    assert spec.vocab["region"][-1] == OTHER and other_region == region[-1]
    assert encoded[0, other_region] == 1.0 and encoded[1, other_region] == 1.0
    assert encoded[2, region[spec.vocab["region"].index("north")]] == 1.0 and encoded[2, other_region] == 0.0
    assert encoded[0, channel[-1]] == 1.0
    assert encoded[1, channel[spec.vocab["channel"].index("phone")]] == 1.0  # case does not matter


def test_background_vector_holds_category_frequencies_that_sum_to_one_and_zero_elsewhere(
    spec: FieldSpec, claims: pd.DataFrame
) -> None:
    background = spec.background()
    assert background.shape == (spec.width,)
    columns = spec.columns
    for name in _encoded(spec, "category"):
        assert background[columns[name]].sum() == pytest.approx(1.0)
        shares = claims[name].astype(str).str.lower().value_counts(normalize=True)
        for value, column in zip(spec.vocab[name], columns[name], strict=True):
            assert background[column] == pytest.approx(shares.get(value, 0.0))  # OTHER never seen: 0
    rest = [i for name in (*_encoded(spec, "number"), *_encoded(spec, "hour")) for i in columns[name]]
    assert (background[rest] == 0).all()


def test_field_spec_survives_to_dict_and_json_and_encodes_the_same(spec: FieldSpec, claims: pd.DataFrame) -> None:
    restored = FieldSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert restored == spec
    np.testing.assert_array_equal(restored.encode(claims), spec.encode(claims))


def test_a_spec_saved_before_schemas_encodes_each_field_as_it_did(spec: FieldSpec, claims: pd.DataFrame) -> None:
    saved = {k: v for k, v in spec.to_dict().items() if k not in ("fields", "declarations")}  # the old model.json
    legacy = FieldSpec.from_dict(json.loads(json.dumps(saved)))
    assert legacy.width == spec.width and legacy.columns["amount_vs_insured"] == [0]  # the old order
    old, new = legacy.encode(claims), spec.encode(claims)
    for name in spec.columns:
        np.testing.assert_allclose(old[:, legacy.columns[name]], new[:, spec.columns[name]], atol=1e-6)


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_claims_probability_does_not_depend_on_what_it_is_batched_with(
    tiny_base_model: str,
    spec: FieldSpec,
    claims: pd.DataFrame,
    tmp_path: Path,
    precision: str,
    device: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.config import get_settings
    from core.modeling.encoder import default_base_model

    monkeypatch.setenv("CLAIMLENS_INFERENCE_PRECISION", precision)
    get_settings.cache_clear()
    try:
        # The real MiniLM: its kernels are the ones whose bf16 rounding depends on padding.
        loaded = claim_model_in_memory(default_base_model(), spec, tmp_path / "claim")
        loaded.model.to(device)
        together = claim_probabilities(loaded, claims)
        alone = np.array([claim_probabilities(loaded, claims.iloc[[i]])[0] for i in range(0, len(claims), 7)])
        in_pairs = claim_probabilities(loaded, claims.iloc[::7], batch_size=2)
    finally:  # later tests must not see this test's precision
        get_settings.cache_clear()
    # Same up to float32 rounding in the small heads (matrix-vector vs matrix-matrix
    # kernels; up to 8e-5 seen in bf16 on a loaded AMX CPU); bf16 rounding of padded
    # batches alone would move scores by ~1e-3.
    assert np.abs(together[::7] - alone).max() < 1e-4
    assert np.abs(together[::7] - in_pairs).max() < 1e-4


def test_texts_tokenised_ahead_in_blocks_score_as_when_tokenised_at_once(
    tiny_base_model: str,
    spec: FieldSpec,
    claims: pd.DataFrame,
    messages: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.modeling import inference

    claim_model = claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim")
    sentiment_model = sentiment_model_in_memory(tiny_base_model, tmp_path / "sentiment")
    at_once = claim_probabilities(claim_model, claims)
    messages_at_once = message_probabilities(sentiment_model, messages)
    monkeypatch.setattr(inference, "TOKENIZE_BLOCK", 13)  # 200 claims: 16 blocks, the last one short
    in_blocks = claim_probabilities(claim_model, claims)
    # Each block's rows meet their own structured fields: a wrong offset would pair them wrongly.
    np.testing.assert_allclose(in_blocks, at_once, atol=1e-6)
    np.testing.assert_allclose(message_probabilities(sentiment_model, messages), messages_at_once, atol=1e-6)
    assert len(claim_probabilities(claim_model, claims.iloc[:0])) == 0


def test_a_folder_written_with_thresholds_in_model_json_still_loads(
    tiny_base_model: str, spec: FieldSpec, tmp_path: Path
) -> None:
    folder = saved(claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim"))
    written = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**written, "thresholds": {"high": 0.6, "medium": 0.2}}))
    assert load_model(folder).meta.calibration == pytest.approx({"scale": 1.7, "bias": -0.4})
