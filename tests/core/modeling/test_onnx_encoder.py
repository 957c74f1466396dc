"""The ONNX Runtime encoder: the same predictions as torch in float32, chosen by the settings,
and a saved `encoder.onnx` used only when it was exported from the folder's own weights."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

from core.config import get_settings
from core.data.generator import GeneratorConfig, generate
from core.errors import InvalidInput
from core.modeling import onnx_encoder, precision
from core.modeling.batching import pad
from core.modeling.features import FieldSpec
from core.modeling.inference import claim_probabilities, message_probabilities, text_embeddings, tokenize
from core.modeling.models import load_model
from core.modeling.onnx_encoder import ONNX_FILE, OnnxTextEncoder, to_onnxruntime
from core.modeling.precision import cpu_runtime, precision_name
from tests.core.modeling.test_models import claim_model_in_memory, saved, sentiment_model_in_memory

# ONNX Runtime computes the same float32 graph with fused kernels: differences are rounding.
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def claims() -> pd.DataFrame:
    return generate(GeneratorConfig(claims=150, seed=4)).claims


@pytest.fixture(scope="module")
def messages() -> pd.DataFrame:
    return generate(GeneratorConfig(claims=50, seed=4)).messages


@pytest.fixture(scope="module")
def spec(claims: pd.DataFrame) -> FieldSpec:
    return FieldSpec.fit(claims)


class Settings:
    """Sets `CLAIMLENS_CPU_RUNTIME` / `CLAIMLENS_INFERENCE_PRECISION` for the rest of a test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def __call__(self, runtime: str = "auto", inference_precision: str = "auto") -> None:
        self.monkeypatch.setenv("CLAIMLENS_CPU_RUNTIME", runtime)
        self.monkeypatch.setenv("CLAIMLENS_INFERENCE_PRECISION", inference_precision)
        get_settings.cache_clear()


@pytest.fixture
def use(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    yield Settings(monkeypatch)
    get_settings.cache_clear()  # later tests read the environment monkeypatch restores


def test_onnxruntime_scores_claims_and_messages_as_torch_does_in_float32(
    tiny_base_model: str, spec: FieldSpec, claims: pd.DataFrame, messages: pd.DataFrame, tmp_path: Path, use: Settings
) -> None:
    use("torch", "fp32")
    claim_folder = saved(claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim"))
    sentiment_folder = saved(sentiment_model_in_memory(tiny_base_model, tmp_path / "sentiment"))
    torch_claims, torch_sentiment = load_model(claim_folder), load_model(sentiment_folder)
    use("onnxruntime")
    fast_claims, fast_sentiment = load_model(claim_folder), load_model(sentiment_folder)
    assert (torch_claims.runtime, fast_claims.runtime) == ("torch", "onnxruntime")
    assert isinstance(fast_claims.model.encoder, OnnxTextEncoder)

    reference = claim_probabilities(torch_claims, claims)
    assert np.ptp(reference) > 1e-3  # the probabilities really depend on the text and fields
    np.testing.assert_allclose(claim_probabilities(fast_claims, claims), reference, atol=TOLERANCE)
    np.testing.assert_allclose(
        message_probabilities(fast_sentiment, messages),
        message_probabilities(torch_sentiment, messages),
        atol=TOLERANCE,
    )
    texts = messages["text"].tolist()
    np.testing.assert_allclose(text_embeddings(fast_claims, texts), text_embeddings(torch_claims, texts), atol=1e-4)


def test_onnxruntime_handles_padded_batches_and_any_batch_or_length(
    tiny_base_model: str, spec: FieldSpec, claims: pd.DataFrame, tmp_path: Path
) -> None:
    loaded = claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim")
    encoder = loaded.model.encoder
    fast = to_onnxruntime(encoder)
    ids = tokenize(loaded, [*claims["narrative"].tolist()[:9], "", "Short."])
    assert len({len(row) for row in ids}) > 3
    batch, mask = pad(ids, 0)  # rows of different lengths: padding the export must mask out
    with torch.inference_mode():
        reference = encoder(batch, mask)
        np.testing.assert_allclose(fast(batch, mask).numpy(), reference.numpy(), atol=1e-5)
        one = pad([ids[-2]], 0)  # a batch of one, two tokens long (the empty text)
        np.testing.assert_allclose(fast(*one).numpy(), encoder(*one).numpy(), atol=1e-5)


def test_a_claims_probability_does_not_depend_on_what_it_is_batched_with_on_onnxruntime(
    spec: FieldSpec, claims: pd.DataFrame, tmp_path: Path, use: Settings
) -> None:
    from core.modeling.encoder import default_base_model

    use("onnxruntime")
    # The real MiniLM: scoring batches 32 claims, the explainer up to 256 masked copies of one.
    loaded = claim_model_in_memory(default_base_model(), spec, tmp_path / "claim")
    loaded.model.encoder = to_onnxruntime(loaded.model.encoder)
    together = claim_probabilities(loaded, claims)
    alone = np.array([claim_probabilities(loaded, claims.iloc[[i]])[0] for i in range(0, len(claims), 7)])
    in_pairs = claim_probabilities(loaded, claims.iloc[::7], batch_size=2)
    assert np.abs(together[::7] - alone).max() < 1e-5
    assert np.abs(together[::7] - in_pairs).max() < 1e-5


@pytest.mark.parametrize(
    ("runtime", "inference_precision", "fast_bf16", "device", "expected", "recorded"),
    [
        ("auto", "auto", False, "cpu", "onnxruntime", "fp32"),  # an AVX2-only CPU
        ("auto", "auto", True, "cpu", "torch", "bf16"),  # AMX / AVX512-BF16: torch's bf16 autocast
        ("auto", "fp32", True, "cpu", "onnxruntime", "fp32"),
        ("auto", "bf16", False, "cpu", "torch", "bf16"),
        ("torch", "auto", False, "cpu", "torch", "fp32"),
        ("onnxruntime", "auto", True, "cpu", "onnxruntime", "fp32"),  # ONNX Runtime runs float32 only
        ("onnxruntime", "fp32", False, "cuda", "torch", None),  # GPUs always run torch
    ],
)
def test_the_settings_choose_the_runtime(
    use: Settings, monkeypatch: pytest.MonkeyPatch, runtime: str, inference_precision: str, fast_bf16: bool,
    device: str, expected: str, recorded: str | None,
) -> None:  # fmt: skip
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: fast_bf16)
    use(runtime, inference_precision)
    assert cpu_runtime(torch.device(device)) == expected
    if recorded is not None:
        assert precision_name(torch.device(device), expected) == recorded


def test_without_onnxruntime_installed_auto_stays_on_torch_and_asking_for_it_is_a_clear_error(
    use: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx_encoder, "available", lambda: False)
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: False)
    use("auto")
    assert cpu_runtime(torch.device("cpu")) == "torch"
    use("onnxruntime")
    with pytest.raises(InvalidInput, match="needs the onnxruntime and onnx packages"):
        cpu_runtime(torch.device("cpu"))


def test_training_saves_the_export_and_loading_uses_it_without_exporting_again(
    tiny_base_model: str, spec: FieldSpec, claims: pd.DataFrame, tmp_path: Path, use: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    use("onnxruntime")
    original = claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim")
    before = claim_probabilities(original, claims)
    folder = saved(original)
    assert (folder / ONNX_FILE).is_file()

    def no_export(*_: object) -> bytes:
        raise AssertionError("exported again although encoder.onnx matches the weights")

    monkeypatch.setattr(onnx_encoder, "export_encoder", no_export)
    np.testing.assert_allclose(claim_probabilities(load_model(folder), claims), before, atol=TOLERANCE)


def test_a_torch_machine_saves_no_export(tiny_base_model: str, spec: FieldSpec, tmp_path: Path, use: Settings) -> None:
    use("torch")
    assert not (saved(claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim")) / ONNX_FILE).exists()


def test_an_export_of_other_weights_or_a_broken_file_is_not_used(
    tiny_base_model: str, spec: FieldSpec, claims: pd.DataFrame, tmp_path: Path, use: Settings
) -> None:
    use("onnxruntime")
    folder = saved(claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim"))
    exported = claim_probabilities(load_model(folder), claims)
    weights = folder / "encoder" / "model.safetensors"
    changed = {name: tensor * 1.5 if tensor.is_floating_point() else tensor for name, tensor in
               load_file(str(weights)).items()}  # fmt: skip
    save_file(changed, str(weights))  # the weights change; the old encoder.onnx stays behind
    use("torch", "fp32")
    reference = claim_probabilities(load_model(folder), claims)
    assert np.abs(reference - exported).max() > 1e-3  # the stale export would be noticed
    use("onnxruntime")
    np.testing.assert_allclose(claim_probabilities(load_model(folder), claims), reference, atol=TOLERANCE)
    (folder / ONNX_FILE).write_bytes(b"not an onnx model")
    np.testing.assert_allclose(claim_probabilities(load_model(folder), claims), reference, atol=TOLERANCE)
