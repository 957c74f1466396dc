"""The ONNX Runtime encoder: the same predictions as torch in float32, chosen by the settings,
and a saved `encoder.onnx` used only when it is the file `model.json` records and was exported
from the folder's own weights by the current export code; otherwise exported again, once."""

from __future__ import annotations

import logging
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
from core.modeling.encoder import TextEncoder
from core.modeling.features import FieldSpec
from core.modeling.inference import claim_probabilities, message_probabilities, text_embeddings, tokenize
from core.modeling.models import load_model
from core.modeling.onnx_encoder import ONNX_FILE, OnnxTextEncoder, inference_session, to_onnxruntime
from core.modeling.precision import cpu_runtime, precision_name
from tests.core.modeling.test_models import claim_model_in_memory, saved, sentiment_model_in_memory

# ONNX Runtime computes the same float32 graph with fused kernels: differences are rounding
# (largest measured: 2.4e-7 in embeddings, 6e-8 in probabilities).
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
    use("onnxruntime", "fp32")  # the torch references too: on a CPU with fast bf16, auto runs them in bf16
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
    np.testing.assert_allclose(
        text_embeddings(fast_claims, texts), text_embeddings(torch_claims, texts), atol=TOLERANCE
    )


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


def counted_exports(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tags of the exports made from now on in the test (they still export)."""
    tags: list[str] = []
    export = onnx_encoder.export_encoder

    def counting(encoder: TextEncoder, tag: str) -> bytes:
        tags.append(tag)
        return export(encoder, tag)

    monkeypatch.setattr(onnx_encoder, "export_encoder", counting)
    return tags


def test_another_graph_given_the_saved_files_tag_is_not_used(
    tiny_base_model: str, spec: FieldSpec, claims: pd.DataFrame, tmp_path: Path, use: Settings
) -> None:
    import onnx

    use("onnxruntime", "fp32")
    original = claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim")
    reference = claim_probabilities(original, claims)
    folder = saved(original)
    other = TextEncoder.from_pretrained(folder / "encoder")
    with torch.no_grad():
        for parameter in other.parameters():
            parameter.mul_(1.5)
    forged = onnx.load_from_string(onnx_encoder.export_encoder(other, ""))
    del forged.metadata_props[:]
    forged.metadata_props.extend(onnx.load(str(folder / ONNX_FILE)).metadata_props)  # the genuine tag
    forged_bytes = forged.SerializeToString()
    (folder / ONNX_FILE).write_bytes(forged_bytes)
    original.model.encoder = OnnxTextEncoder(inference_session(forged_bytes), other.hidden_size)
    assert np.abs(claim_probabilities(original, claims) - reference).max() > 1e-3  # running it would show
    np.testing.assert_allclose(claim_probabilities(load_model(folder), claims), reference, atol=TOLERANCE)
    assert (folder / ONNX_FILE).read_bytes() != forged_bytes  # replaced by an export of the weights


def test_an_export_by_an_older_export_version_is_exported_again_once(
    tiny_base_model: str, spec: FieldSpec, claims: pd.DataFrame, tmp_path: Path, use: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    use("onnxruntime", "fp32")
    original = claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim")
    reference = claim_probabilities(original, claims)
    with monkeypatch.context() as older:
        older.setattr(onnx_encoder, "EXPORT_VERSION", onnx_encoder.EXPORT_VERSION - 1)
        folder = saved(original)
    exports = counted_exports(monkeypatch)
    for _ in range(2):  # the second load uses the file the first one saved
        np.testing.assert_allclose(claim_probabilities(load_model(folder), claims), reference, atol=TOLERANCE)
    assert len(exports) == 1


def test_an_export_error_while_saving_is_a_warning_and_loading_exports_instead(
    tiny_base_model: str, spec: FieldSpec, claims: pd.DataFrame, tmp_path: Path, use: Settings,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    use("onnxruntime", "fp32")
    original = claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim")
    reference = claim_probabilities(original, claims)

    def broken(*_: object) -> bytes:
        raise RuntimeError("the exporter broke")

    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING):
        patch.setattr(onnx_encoder, "export_encoder", broken)
        folder = saved(original)
    assert any(str(folder) in r.getMessage() and "the exporter broke" in r.getMessage() for r in caplog.records)
    assert not (folder / ONNX_FILE).exists()
    np.testing.assert_allclose(claim_probabilities(load_model(folder), claims), reference, atol=TOLERANCE)


def test_a_failed_write_leaves_no_temporary_file(
    tiny_base_model: str, spec: FieldSpec, tmp_path: Path, use: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    use("torch")
    folder = saved(claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim"))
    before = sorted(path.name for path in folder.iterdir())

    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(onnx_encoder.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        onnx_encoder.write_onnx_encoder(folder)
    assert sorted(path.name for path in folder.iterdir()) == before


def test_a_folder_without_an_export_keeps_the_one_its_first_load_makes(
    tiny_base_model: str, spec: FieldSpec, claims: pd.DataFrame, tmp_path: Path, use: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    use("torch")
    original = claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim")
    folder = saved(original)
    use("onnxruntime", "fp32")
    reference = claim_probabilities(original, claims)
    exports = counted_exports(monkeypatch)
    for _ in range(2):
        np.testing.assert_allclose(claim_probabilities(load_model(folder), claims), reference, atol=TOLERANCE)
    assert len(exports) == 1
    assert (folder / ONNX_FILE).is_file()


def test_a_read_only_folder_keeps_the_export_in_memory_and_says_so_once(
    tiny_base_model: str, spec: FieldSpec, claims: pd.DataFrame, tmp_path: Path, use: Settings,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    use("torch")
    original = claim_model_in_memory(tiny_base_model, spec, tmp_path / "claim")
    folder = saved(original)
    use("onnxruntime", "fp32")
    reference = claim_probabilities(original, claims)

    def read_only(target: Path, _: bytes) -> None:
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr(onnx_encoder, "write_atomically", read_only, raising=False)
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            np.testing.assert_allclose(claim_probabilities(load_model(folder), claims), reference, atol=TOLERANCE)
    assert [r.getMessage() for r in caplog.records if "cannot save" in r.getMessage()] == [
        f"cannot save the exported encoder in {folder} ([Errno 13] Permission denied: '{folder / ONNX_FILE}');"
        " it is exported in memory at each load"
    ]
    assert not (folder / ONNX_FILE).exists()
