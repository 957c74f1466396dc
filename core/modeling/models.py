"""The claim-risk and sentiment models, and the model folder they are saved to.

Claim-risk: mean-pooled narrative embedding + a small MLP over the encoded structured
fields, joined in a head that outputs one logit; a Platt calibration (scale, bias)
fitted on validation claims turns it into a calibrated probability.
Sentiment: mean-pooled message embedding -> linear layer -> 3 logits, temperature-scaled.

A model folder holds `encoder/` (weights and tokenizer, `save_pretrained` format, LoRA
merged in), `head.safetensors`, `model.json` (task, labels, field spec, calibration,
thresholds), the model card `README.md` and, where the CPU runs the encoder with ONNX
Runtime, `encoder.onnx` (the same encoder exported, see `core.modeling.onnx_encoder`).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import PreTrainedTokenizerBase

from core.errors import InvalidInput
from core.modeling.encoder import TextEncoder, load_tokenizer
from core.modeling.features import FieldSpec
from core.modeling.onnx_encoder import OnnxTextEncoder, onnx_encoder_for, write_atomically, write_onnx_encoder
from core.modeling.precision import cpu_runtime
from core.tasks import Task

SENTIMENT_LABELS = ("negative", "neutral", "positive")
FORMAT_VERSION = 1

log = logging.getLogger(__name__)


@dataclass
class ModelMeta:
    """What travels with the weights in `model.json`."""

    task: str
    base_model: str
    method: str
    max_length: int
    labels: list[str] = field(default_factory=list)
    field_spec: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, float] = field(default_factory=lambda: {"scale": 1.0, "bias": 0.0})
    format_version: int = FORMAT_VERSION
    # SHA-256 of the folder's `encoder.onnx` as written; "" when none was (see `core.modeling.onnx_encoder`)
    onnx_sha256: str = ""
    # The claim schema the model was trained on (`core.schema`): its fingerprint and whole
    # declaration, so a scorer can tell whether it reads the active schema. Empty for models
    # trained before schemas (the demo's) and for sentiment models.
    schema_fingerprint: str = ""
    schema: dict[str, Any] = field(default_factory=dict)


def _float32(like: torch.Tensor) -> torch.autocast:
    """The small heads always run in float32, even inside a bf16 autocast block: they cost
    nothing, and the probabilities keep full resolution (bf16 has ~3 significant digits)."""
    return torch.autocast(like.device.type, enabled=False)


def _embedding(
    encoder: TextEncoder | OnnxTextEncoder, input_ids: torch.Tensor | None, attention_mask: torch.Tensor | None,
    text_embedding: torch.Tensor | None,
) -> torch.Tensor:  # fmt: skip
    """The given (cached) text embedding, or the encoder's for the given tokens."""
    if text_embedding is not None:
        return text_embedding
    if input_ids is None or attention_mask is None:
        raise ValueError("pass either text_embedding or input_ids with attention_mask")
    return encoder(input_ids, attention_mask)


class ClaimRiskModel(nn.Module):
    calibration: torch.Tensor  # [scale, bias] of Platt scaling (a buffer: saved with the head)
    encoder: TextEncoder | OnnxTextEncoder  # ONNX Runtime's stands in at CPU inference

    def __init__(self, encoder: TextEncoder, field_width: int, hidden: int = 64, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.fields = nn.Sequential(nn.Linear(field_width, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU())
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(encoder.hidden_size + hidden, hidden), nn.GELU(), nn.Linear(hidden, 1)
        )
        self.register_buffer("calibration", torch.tensor([1.0, 0.0]))

    def forward(
        self,
        fields: torch.Tensor,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        text_embedding: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Uncalibrated logits, shape (batch,). Pass `text_embedding` to skip the encoder."""
        text_embedding = _embedding(self.encoder, input_ids, attention_mask, text_embedding)
        with _float32(fields):
            joined = torch.cat([text_embedding.float(), self.fields(fields.float())], dim=-1)
            return self.head(joined).squeeze(-1)

    def calibrated(self, logits: torch.Tensor) -> torch.Tensor:
        return logits * self.calibration[0] + self.calibration[1]


class SentimentModel(nn.Module):
    calibration: torch.Tensor  # [1 / temperature, unused] (a buffer: saved with the head)
    encoder: TextEncoder | OnnxTextEncoder

    def __init__(self, encoder: TextEncoder, labels: int = 3, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(encoder.hidden_size, labels))
        self.register_buffer("calibration", torch.tensor([1.0, 0.0]))  # [1 / temperature, unused]

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        text_embedding: torch.Tensor | None = None,
    ) -> torch.Tensor:
        embedding = _embedding(self.encoder, input_ids, attention_mask, text_embedding)
        with _float32(embedding):
            return self.head(embedding.float())

    def calibrated(self, logits: torch.Tensor) -> torch.Tensor:
        return logits * self.calibration[0]


@dataclass
class LoadedModel:
    model: ClaimRiskModel | SentimentModel
    tokenizer: PreTrainedTokenizerBase
    meta: ModelMeta
    path: Path
    # What runs the text encoder: "torch", or "onnxruntime" (`core.modeling.precision.cpu_runtime`).
    runtime: str = "torch"
    # A fast tokenizer is not safe to call from two threads at once (its truncation settings
    # are shared state); scoring's read-ahead and explain_many call it from threads.
    tokenizer_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def field_spec(self) -> FieldSpec:
        return FieldSpec.from_dict(self.meta.field_spec)


def build_model(meta: ModelMeta, encoder: TextEncoder) -> ClaimRiskModel | SentimentModel:
    if meta.task == Task.CLAIM_RISK:
        return ClaimRiskModel(encoder, FieldSpec.from_dict(meta.field_spec).width)
    if meta.task == Task.SENTIMENT:
        return SentimentModel(encoder, len(meta.labels))
    raise InvalidInput(f"unknown task {meta.task!r}")


def save_model(
    path: Path, model: ClaimRiskModel | SentimentModel, tokenizer: PreTrainedTokenizerBase, meta: ModelMeta
) -> None:
    path.mkdir(parents=True, exist_ok=True)
    encoder = model.encoder
    assert isinstance(encoder, TextEncoder), "a model is saved from training, with its torch encoder"
    transformer = encoder.transformer
    if hasattr(transformer, "merge_and_unload"):  # LoRA: fold the adapters into plain weights
        transformer = transformer.merge_and_unload()
        encoder.transformer = transformer
    transformer.save_pretrained(path / "encoder")
    tokenizer.save_pretrained(path / "encoder")
    head = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if not k.startswith("encoder.")}
    save_file(head, str(path / "head.safetensors"))
    meta.calibration = {"scale": float(model.calibration[0]), "bias": float(model.calibration[1])}
    meta.onnx_sha256 = _export_onnx(path)
    _write_meta(path, meta)


def _write_meta(path: Path, meta: ModelMeta) -> None:
    # atomic: loading may rewrite it (a new `encoder.onnx`) while other processes read it
    write_atomically(path / "model.json", json.dumps(meta.__dict__, indent=2).encode())


def _export_onnx(path: Path) -> str:
    """Export the saved encoder to `encoder.onnx` where the CPU runs it with ONNX Runtime
    (once here, not at every load); the file's SHA-256, or "" when none was written."""
    if cpu_runtime(torch.device("cpu")) != "onnxruntime":
        return ""
    try:
        return write_onnx_encoder(path)
    except Exception as error:  # the model is saved; failing the training run for this would lose it
        log.warning("exporting the encoder of %s to ONNX failed (%s); loading the model will export it", path, error)
        return ""


def _record_onnx(path: Path, meta: ModelMeta, sha256: str) -> None:
    """Record in `model.json` the SHA-256 of an `encoder.onnx` written at load."""
    meta.onnx_sha256 = sha256
    _write_meta(path, meta)


def load_model(path: Path | str, device: str = "cpu") -> LoadedModel:
    """Load a model folder; a missing or broken folder is a clear `InvalidInput`."""
    path = Path(path)
    if not (path / "model.json").is_file():
        raise InvalidInput(f"model folder {path} is missing or incomplete (no model.json)")
    try:
        written = json.loads((path / "model.json").read_text())
        # Band thresholds live with the registered version (`core.bands`); folders written
        # before that carried a second copy here, which is not read.
        written.pop("thresholds", None)
        meta = ModelMeta(**written)
    except (json.JSONDecodeError, TypeError, AttributeError) as error:
        raise InvalidInput(f"model folder {path} has an unreadable model.json ({error})") from None
    if meta.format_version != FORMAT_VERSION:
        raise InvalidInput(f"model folder {path} has format {meta.format_version}, expected {FORMAT_VERSION}")
    encoder = TextEncoder.from_pretrained(path / "encoder")
    model = build_model(meta, encoder)
    head_file = path / "head.safetensors"
    if not head_file.is_file():
        raise InvalidInput(f"model folder {path} is incomplete (no head.safetensors)")
    try:
        missing, unexpected = model.load_state_dict(load_file(str(head_file)), strict=False)
    except RuntimeError:  # shape mismatches
        missing, unexpected = [], ["<shape mismatch>"]
    if unexpected or any(not k.startswith("encoder.") for k in missing):
        raise InvalidInput(f"model folder {path} has weights that do not fit its model.json")
    model.to(device).eval()
    runtime = cpu_runtime(torch.device(device))
    if runtime == "onnxruntime":
        model.encoder = onnx_encoder_for(path, encoder, meta.onnx_sha256, partial(_record_onnx, path, meta))
    tokenizer = load_tokenizer(str(path / "encoder"))
    return LoadedModel(model=model, tokenizer=tokenizer, meta=meta, path=path, runtime=runtime)
