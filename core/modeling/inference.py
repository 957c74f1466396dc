"""Batch inference with a loaded model folder on data frames (no database).

Texts are grouped by exact token length, so no batch carries padding and a text's result
does not depend on what it is batched with (see `core.modeling.precision`).
Tokenisation stays off the model's critical path: long inputs are tokenised in blocks,
the next block on a thread while this one runs; scoring tokenises each chunk as it reads
it (on its read-ahead thread on a GPU) and passes `token_ids`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import torch

from core import claim_store
from core.modeling.batching import in_length_order, pad
from core.modeling.models import LoadedModel
from core.modeling.precision import inference_precision

# Measured on the 2-core CPU (benchmarks/bench_scoring.py): batches of 32 beat 128 by ~10%
# (activations stay in cache); GPUs want large batches to fill the device.
CPU_BATCH_SIZE = 32
GPU_BATCH_SIZE = 512
# Texts tokenised per block when a caller hands over raw texts: large enough that every
# exact token length fills GPU batches, small enough that the next block's tokenisation
# (on a thread) overlaps this block's forward passes instead of preceding them all.
TOKENIZE_BLOCK = 16384


def _device(loaded: LoadedModel) -> torch.device:
    return next(loaded.model.parameters()).device


def default_batch_size(loaded: LoadedModel) -> int:
    return GPU_BATCH_SIZE if _device(loaded).type == "cuda" else CPU_BATCH_SIZE


TokenIds = list[list[int]]


def tokenize(loaded: LoadedModel, texts: list[str]) -> TokenIds:
    """Token ids of each text, truncated to the model's input length."""
    if not texts:
        return []
    with loaded.tokenizer_lock:
        return loaded.tokenizer(texts, truncation=True, max_length=loaded.meta.max_length)["input_ids"]


def claim_texts(claims: pd.DataFrame) -> list[str]:
    """What the encoder reads of each claim: its text fields joined (`core.claim_store.texts`)."""
    return claim_store.texts(claims).tolist()


def message_texts(messages: pd.DataFrame) -> list[str]:
    return messages["text"].fillna("").astype(str).tolist()


@torch.inference_mode()
def claim_probabilities(
    loaded: LoadedModel, claims: pd.DataFrame, batch_size: int | None = None, token_ids: TokenIds | None = None
) -> np.ndarray:
    """Calibrated P(fraud) per claim row."""
    fields = torch.from_numpy(loaded.field_spec.encode(claims))
    return _run(loaded, lambda: claim_texts(claims), token_ids, batch_size, lambda ids, mask, rows: torch.sigmoid(
        loaded.model.calibrated(loaded.model(fields=fields[rows].to(ids.device), input_ids=ids, attention_mask=mask))
    ))  # fmt: skip


@torch.inference_mode()
def message_probabilities(
    loaded: LoadedModel, messages: pd.DataFrame, batch_size: int | None = None, token_ids: TokenIds | None = None
) -> np.ndarray:
    """Calibrated class probabilities per message row, columns in `meta.labels` order."""
    return _run(loaded, lambda: message_texts(messages), token_ids, batch_size, lambda ids, mask, rows: torch.softmax(
        loaded.model.calibrated(loaded.model(input_ids=ids, attention_mask=mask)), dim=-1
    ))  # fmt: skip


@torch.inference_mode()
def text_embeddings(loaded: LoadedModel, texts: list[str], batch_size: int | None = None) -> np.ndarray:
    """The fine-tuned encoder's mean-pooled embedding of each text (drift monitoring)."""
    return _run(loaded, lambda: texts, None, batch_size, lambda ids, mask, rows: loaded.model.encoder(ids, mask))


Forward = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _run(
    loaded: LoadedModel, texts: Callable[[], list[str]], token_ids: TokenIds | None, batch_size: int | None,
    forward: Forward,
) -> np.ndarray:  # fmt: skip
    """`forward(ids, mask, rows)` over all texts in exact-length batches, outputs in text order.

    `texts` is called only when there are no `token_ids` to run on.
    """
    if token_ids is not None:
        return _run_block(loaded, token_ids, 0, batch_size, forward)
    blocks = _tokenized_ahead(loaded, texts())
    outputs = [_run_block(loaded, ids, start, batch_size, forward) for start, ids in blocks]
    return np.concatenate(outputs) if outputs else np.zeros(0)


def _tokenized_ahead(loaded: LoadedModel, texts: list[str]) -> Iterator[tuple[int, TokenIds]]:
    """Token ids block by block, the next block tokenised on a thread while the caller runs this one."""
    if len(texts) <= TOKENIZE_BLOCK:
        yield 0, tokenize(loaded, texts)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenize") as pool:
        pending = pool.submit(tokenize, loaded, texts[:TOKENIZE_BLOCK])
        for start in range(0, len(texts), TOKENIZE_BLOCK):
            encoded = pending.result()
            following = start + TOKENIZE_BLOCK
            if following < len(texts):
                pending = pool.submit(tokenize, loaded, texts[following : following + TOKENIZE_BLOCK])
            yield start, encoded


def _run_block(
    loaded: LoadedModel, encoded: TokenIds, offset: int, batch_size: int | None, forward: Forward
) -> np.ndarray:
    pad_id = int(loaded.tokenizer.pad_token_id or 0)
    device = _device(loaded)

    def run(rows: np.ndarray) -> np.ndarray:
        ids, mask = pad([encoded[i] for i in rows], pad_id)
        return forward(ids.to(device), mask.to(device), torch.from_numpy(rows + offset)).float().cpu().numpy()

    with inference_precision(device):
        return in_length_order([len(ids) for ids in encoded], batch_size or default_batch_size(loaded), run, exact=True)
