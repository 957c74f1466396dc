"""The text encoder run by ONNX Runtime on the CPU, in float32.

Same weights, same graph, same float32 arithmetic as `TextEncoder` (embeddings agree to
~1e-6), but ONNX Runtime fuses attention, LayerNorm and GELU and runs the whole encoder
in C++, which on the 2-core CPU is faster than eager PyTorch at scoring's batch sizes
(`benchmarks/bench_scoring.py`; figures in the README). `core.modeling.precision.cpu_runtime`
decides when it is used; `core.modeling.models.load_model` swaps it in for the encoder,
so scoring, explanations and drift embeddings all run the same path.

The graph is exported from the model folder's own encoder weights and saved beside them
as `encoder.onnx`, tagged with a SHA-256 of those weights; a file whose tag does not match
the weights, or that ONNX Runtime cannot read, is ignored and the graph exported again in
memory (as for folders saved before this file existed). ONNX files are protobuf: loading
one runs no code from it.

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
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.modeling.encoder import TextEncoder

ONNX_FILE = "encoder.onnx"
OPSET = 17
FINGERPRINT_KEY = "claimlens_weights_sha256"
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "pooled"  # not "embedding", which the torch.export-based exporter gives an inner value

log = logging.getLogger(__name__)


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


def export_encoder(encoder: TextEncoder, fingerprint: str) -> bytes:
    """`encoder` (on the CPU, float32) as an ONNX model with dynamic batch and sequence
    axes, `fingerprint` stored in its metadata."""
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
            encoder, (ids, mask), buffer, input_names=list(INPUTS), output_names=[OUTPUT], dynamic_axes=dynamic,
            opset_version=OPSET, dynamo=False,
        )  # fmt: skip
    model = onnx.load_from_string(buffer.getvalue())
    entry = model.metadata_props.add()
    entry.key, entry.value = FINGERPRINT_KEY, fingerprint
    return model.SerializeToString()


def write_onnx_encoder(folder: Path) -> Path:
    """Export the model folder's `encoder/` to `folder/encoder.onnx` (written atomically)."""
    encoder_dir = folder / "encoder"
    data = export_encoder(TextEncoder.from_pretrained(encoder_dir), weights_fingerprint(encoder_dir))
    target = folder / ONNX_FILE
    partial = target.with_name(f".{ONNX_FILE}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(target)
    return target


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


def onnx_encoder_for(folder: Path, encoder: TextEncoder) -> OnnxTextEncoder:
    """An ONNX Runtime encoder for the model folder `folder`, whose `encoder/` holds the
    weights `encoder` was loaded from: its `encoder.onnx` when that matches them, else
    `encoder` exported in memory."""
    fingerprint = weights_fingerprint(folder / "encoder")
    saved = folder / ONNX_FILE
    if saved.is_file():
        try:
            session = inference_session(str(saved))
            if session.get_modelmeta().custom_metadata_map.get(FINGERPRINT_KEY) == fingerprint:
                return OnnxTextEncoder(session, encoder.hidden_size)
            log.warning("%s was exported from other weights; exporting the encoder again", saved)
        except Exception as error:  # any file ONNX Runtime cannot read: export instead
            log.warning("%s cannot be loaded (%s); exporting the encoder again", saved, error)
    return OnnxTextEncoder(inference_session(export_encoder(encoder, fingerprint)), encoder.hidden_size)


def to_onnxruntime(encoder: TextEncoder) -> OnnxTextEncoder:
    """`encoder` exported in memory and run by ONNX Runtime (benchmarks and models not loaded from a folder)."""
    return OnnxTextEncoder(inference_session(export_encoder(encoder.cpu(), "")), encoder.hidden_size)
