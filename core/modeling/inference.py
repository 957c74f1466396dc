"""Batch inference with a loaded model folder on data frames (no database).

Texts are grouped by exact token length, so no batch carries padding and a text's result
does not depend on what it is batched with (see `core.modeling.precision`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from core.modeling.batching import in_length_order, pad
from core.modeling.models import LoadedModel
from core.modeling.precision import inference_precision

# Measured on the 2-core CPU (benchmarks/bench_scoring.py): batches of 32 beat 128 by ~10%
# (activations stay in cache); GPUs want large batches to fill the device.
CPU_BATCH_SIZE = 32
GPU_BATCH_SIZE = 512


def _device(loaded: LoadedModel) -> torch.device:
    return next(loaded.model.parameters()).device


def default_batch_size(loaded: LoadedModel) -> int:
    return GPU_BATCH_SIZE if _device(loaded).type == "cuda" else CPU_BATCH_SIZE


@torch.inference_mode()
def claim_probabilities(loaded: LoadedModel, claims: pd.DataFrame, batch_size: int | None = None) -> np.ndarray:
    """Calibrated P(fraud) per claim row."""
    fields = torch.from_numpy(loaded.field_spec.encode(claims))
    texts = claims["narrative"].fillna("").astype(str).tolist()
    return _run(loaded, texts, batch_size, lambda ids, mask, rows: torch.sigmoid(
        loaded.model.calibrated(loaded.model(fields=fields[rows].to(ids.device), input_ids=ids, attention_mask=mask))
    ))  # fmt: skip


@torch.inference_mode()
def message_probabilities(loaded: LoadedModel, messages: pd.DataFrame, batch_size: int | None = None) -> np.ndarray:
    """Calibrated class probabilities per message row, columns in `meta.labels` order."""
    texts = messages["text"].fillna("").astype(str).tolist()
    return _run(loaded, texts, batch_size, lambda ids, mask, rows: torch.softmax(
        loaded.model.calibrated(loaded.model(input_ids=ids, attention_mask=mask)), dim=-1
    ))  # fmt: skip


def _run(loaded: LoadedModel, texts: list[str], batch_size: int | None, forward) -> np.ndarray:  # type: ignore[no-untyped-def]
    encoded = loaded.tokenizer(texts, truncation=True, max_length=loaded.meta.max_length)["input_ids"] if texts else []
    pad_id = int(loaded.tokenizer.pad_token_id or 0)
    device = _device(loaded)

    def run(rows: np.ndarray) -> np.ndarray:
        ids, mask = pad([encoded[i] for i in rows], pad_id)
        return forward(ids.to(device), mask.to(device), torch.from_numpy(rows)).float().cpu().numpy()

    with inference_precision(device):
        return in_length_order([len(ids) for ids in encoded], batch_size or default_batch_size(loaded), run, exact=True)


@torch.inference_mode()
def text_embeddings(loaded: LoadedModel, texts: list[str], batch_size: int | None = None) -> np.ndarray:
    """The fine-tuned encoder's mean-pooled embedding of each text (drift monitoring)."""
    return _run(loaded, texts, batch_size, lambda ids, mask, rows: loaded.model.encoder(ids, mask))
