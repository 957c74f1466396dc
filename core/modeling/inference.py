"""Batch inference with a loaded model folder on data frames (no database).

Texts are sorted by length and padded per batch, so short claims do not pay for long ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from core.modeling.models import LoadedModel

BATCH_SIZE = 128


def _device(loaded: LoadedModel) -> torch.device:
    return next(loaded.model.parameters()).device


@torch.inference_mode()
def claim_probabilities(loaded: LoadedModel, claims: pd.DataFrame, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Calibrated P(fraud) per claim row."""
    fields = torch.from_numpy(loaded.field_spec.encode(claims))
    texts = claims["narrative"].fillna("").astype(str).tolist()
    return _run(loaded, texts, batch_size, lambda ids, mask, rows: torch.sigmoid(
        loaded.model.calibrated(loaded.model(fields=fields[rows].to(ids.device), input_ids=ids, attention_mask=mask))
    ))  # fmt: skip


@torch.inference_mode()
def message_probabilities(loaded: LoadedModel, messages: pd.DataFrame, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Calibrated class probabilities per message row, columns in `meta.labels` order."""
    texts = messages["text"].fillna("").astype(str).tolist()
    return _run(loaded, texts, batch_size, lambda ids, mask, rows: torch.softmax(
        loaded.model.calibrated(loaded.model(input_ids=ids, attention_mask=mask)), dim=-1
    ))  # fmt: skip


def _run(loaded: LoadedModel, texts: list[str], batch_size: int, forward) -> np.ndarray:  # type: ignore[no-untyped-def]
    if not texts:
        return np.zeros(0)
    encoded = loaded.tokenizer(texts, truncation=True, max_length=loaded.meta.max_length)["input_ids"]
    order = np.argsort([len(ids) for ids in encoded], kind="stable")
    pad = int(loaded.tokenizer.pad_token_id or 0)
    device = _device(loaded)
    outputs: list[np.ndarray] = []
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        width = max(len(encoded[i]) for i in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, i in enumerate(rows):
            ids[j, : len(encoded[i])] = torch.tensor(encoded[i])
            mask[j, : len(encoded[i])] = 1
        outputs.append(forward(ids.to(device), mask.to(device), torch.from_numpy(rows)).float().cpu().numpy())
    result = np.concatenate(outputs)
    restored = np.empty_like(result)
    restored[order] = result
    return restored
