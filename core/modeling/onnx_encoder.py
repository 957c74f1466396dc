"""The text encoder run by ONNX Runtime on the CPU, in float32.

Same weights, same graph, same float32 arithmetic as `TextEncoder` (embeddings agree to
within 1e-6: largest difference 8.1e-7 measured with MiniLM, 2.4e-7 with the tests' model;
tested to 1e-5), but ONNX Runtime fuses attention, LayerNorm and GELU and runs the whole
encoder in C++, which on the 2-core CPU is faster than eager PyTorch at scoring's batch sizes
(`benchmarks/bench_scoring.py`; figures in the README). `core.modeling.precision.cpu_runtime`
decides when it is used; `core.modeling.models.load_model` swaps it in for the encoder,
so scoring, explanations and drift embeddings all run the same path.

The graph is exported from the model folder's own encoder weights and saved beside them
as `encoder.onnx`, tagged with `EXPORT_VERSION`, `OPSET` and a SHA-256 of those weights;
the file's own SHA-256 is recorded in `model.json`. A file used must have that SHA-256
(so a graph given a copied tag is not run) and a tag matching the weights and this code
(so a stale export is not run); any other file, or one ONNX Runtime cannot read, is
ignored and the graph exported again and saved in its place (kept in memory where the
folder is read-only). ONNX files are protobuf: loading one runs no code from it.

Export uses torch's TorchScript-based exporter (`dynamo=False`, deprecated but shipped in
torch 2.13): it exported MiniLM in 3 s where the torch.export-based one took 20-23 s (on
the 2-core CPU under load), time `make run` would pay per trained model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import os
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.modeling.encoder import TextEncoder

ONNX_FILE = "encoder.onnx"
OPSET = 17
# Bump whenever the exported graph changes (this module's export code, the pooling in
# `TextEncoder.forward`, INPUTS or OUTPUT): saved files with an older version are exported again.
EXPORT_VERSION = 1
TAG_KEY = "claimlens_export_tag"
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "pooled"  # not "embedding", which the torch.export-based exporter gives an inner value

log = logging.getLogger(__name__)
_unwritable: set[Path] = set()  # folders already warned about, so the warning comes once per process


def available() -> bool:
    """Whether ONNX Runtime and the ONNX package (for exporting) are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def weights_fingerprint(encoder_dir: Path) -> str:
    """SHA-256 over the encoder folder's config and weights (every shard), the files the graph is exported from."""
    digest = hashlib.sha256()
    for file in [encoder_dir / "config.json", *sorted(encoder_dir.glob("*.safetensors"))]:
        if file.is_file():
            digest.update(file.name.encode())
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def export_tag(encoder_dir: Path) -> str:
    """The tag an `encoder.onnx` exported now from `encoder_dir` carries: export version, opset, weights' SHA-256."""
    return f"export {EXPORT_VERSION}, opset {OPSET}, weights {weights_fingerprint(encoder_dir)}"


def export_encoder(encoder: TextEncoder, tag: str) -> bytes:
    """`encoder` (on the CPU, float32) as an ONNX model with dynamic batch and sequence
    axes, `tag` stored in its metadata."""
    import onnx

    encoder = encoder.eval()
    # A padded example: the attention mask's use is traced, so padded batches stay correct.
    vocabulary = int(encoder.transformer.config.vocab_size)
    ids = (torch.arange(1, 13).reshape(2, 6) * 97) % vocabulary
    mask = torch.ones_like(ids)
    mask[1, 3:] = 0
    buffer = io.BytesIO()
    dynamic = {name: {0: "batch", 1: "sequence"} for name in INPUTS} | {OUTPUT: {0: "batch"}}
    with warnings.catch_warnings(), torch.no_grad(), torch.autocast("cpu", enabled=False):
        # the exporter's deprecation notice, and tracer notes about Python-side checks in
        # transformers' mask code (their outcome for the padded example is the general one)
        warnings.simplefilter("ignore")
        torch.onnx.export(
            encoder, (ids, mask), buffer,  # type: ignore[arg-type]  # a file object is documented and works
            input_names=list(INPUTS), output_names=[OUTPUT], dynamic_axes=dynamic,
            opset_version=OPSET, dynamo=False,
        )  # fmt: skip
    model = onnx.load_from_string(buffer.getvalue())
    entry = model.metadata_props.add()
    entry.key, entry.value = TAG_KEY, tag
    return model.SerializeToString()


def write_atomically(target: Path, data: bytes) -> None:
    """Write `data` to `target` through a temporary file and `os.replace`, so that readers
    in other processes see the old file or the new one, never part of one."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        partial.write_bytes(data)
        os.replace(partial, target)
    finally:  # after a failed write or replace; after a successful replace there is nothing left
        partial.unlink(missing_ok=True)


def write_onnx_encoder(folder: Path, data: bytes | None = None) -> str:
    """Write `data` (by default an export of the model folder's `encoder/`) to
    `folder/encoder.onnx` atomically; the SHA-256 of what was written, for `model.json`."""
    if data is None:
        encoder_dir = folder / "encoder"
        data = export_encoder(TextEncoder.from_pretrained(encoder_dir), export_tag(encoder_dir))
    write_atomically(folder / ONNX_FILE, data)
    return hashlib.sha256(data).hexdigest()


class OnnxTextEncoder(nn.Module):
    """Drop-in for `TextEncoder` at inference: same inputs, same mean-pooled float32 output."""

    def __init__(self, session: Any, hidden_size: int) -> None:
        super().__init__()
        self.session = session
        self._hidden_size = hidden_size

    @property
    def hidden_size(self) -> int:
        return self._hidden_size

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        feeds = {
            "input_ids": input_ids.detach().cpu().long().numpy(),
            "attention_mask": attention_mask.detach().cpu().long().numpy(),
        }
        # InferenceSession.run may be called from several threads at once (explain_many does).
        return torch.from_numpy(self.session.run([OUTPUT], feeds)[0])


def inference_session(model: bytes | str) -> Any:
    """An ONNX Runtime CPU session for an ONNX model (bytes or a file path), on torch's thread count."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    # No busy-waiting between operators: on a 2-core machine shared with the app and the
    # worker, spinning threads take the cores others need (and measured slower under load).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def onnx_encoder_for(
    folder: Path, encoder: TextEncoder, recorded_sha256: str, record: Callable[[str], None]
) -> OnnxTextEncoder:
    """An ONNX Runtime encoder for the model folder `folder`, whose `encoder/` holds the
    weights `encoder` was loaded from: its `encoder.onnx` when that file's SHA-256 is
    `recorded_sha256` (from `model.json`) and its tag is `export_tag`'s, else `encoder`
    exported again and saved as the folder's `encoder.onnx` (`record` is then called with
    the new file's SHA-256), or kept in memory where it cannot be saved."""
    tag = export_tag(folder / "encoder")
    session = _saved_session(folder / ONNX_FILE, recorded_sha256, tag)
    if session is None:
        data = export_encoder(encoder, tag)
        _save_export(folder, data, record)
        session = inference_session(data)
    return OnnxTextEncoder(session, encoder.hidden_size)


def _saved_session(saved: Path, recorded_sha256: str, tag: str) -> Any | None:
    """A session for `saved` if it is the file `model.json` records and carries `tag`; else None (logged)."""
    if not saved.is_file():
        return None
    data = saved.read_bytes()  # hashed and run from the same bytes: the file cannot change in between
    if hashlib.sha256(data).hexdigest() != recorded_sha256:
        log.warning("%s is not the file model.json records; exporting the encoder again from the weights", saved)
        return None
    try:
        session = inference_session(data)
    except Exception as error:  # any file ONNX Runtime cannot read: export instead
        log.warning("%s cannot be loaded (%s); exporting the encoder again", saved, error)
        return None
    if session.get_modelmeta().custom_metadata_map.get(TAG_KEY) == tag:
        return session
    log.warning("%s was exported from other weights or by older export code; exporting the encoder again", saved)
    return None


def _save_export(folder: Path, data: bytes, record: Callable[[str], None]) -> None:
    """Save a fresh export as the folder's `encoder.onnx`, so that later loads, in every
    process, use it instead of exporting again (about 3 s each)."""
    try:
        record(write_onnx_encoder(folder, data))
    except OSError as error:  # a read-only folder: the export stays in memory
        if folder not in _unwritable:
            _unwritable.add(folder)
            log.warning(
                "cannot save the exported encoder in %s (%s); it is exported in memory at each load", folder, error
            )


def to_onnxruntime(encoder: TextEncoder) -> OnnxTextEncoder:
    """`encoder` exported in memory and run by ONNX Runtime (benchmarks and models not loaded from a folder)."""
    return OnnxTextEncoder(inference_session(export_encoder(encoder.cpu(), "")), encoder.hidden_size)
