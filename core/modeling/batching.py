"""Dynamic padding and length-sorted batching, shared by training, scoring and evaluation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch


def pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids padded to the longest sequence, and the matching attention mask."""
    width = max(len(ids) for ids in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, row in enumerate(sequences):
        ids[i, : len(row)] = torch.as_tensor(row)
        mask[i, : len(row)] = 1
    return ids, mask


def in_length_order(
    lengths: Sequence[int] | np.ndarray, batch_size: int, run: Callable[[np.ndarray], np.ndarray], exact: bool = False
) -> np.ndarray:
    """Call `run` on batches of row indexes sorted by length (little padding) and return
    the concatenated outputs in the original row order. `exact` batches only rows of
    equal length together (no padding at all)."""
    sorted_lengths = np.asarray(lengths)
    order = np.argsort(sorted_lengths, kind="stable")
    sorted_lengths = sorted_lengths[order]
    if exact:
        edges = np.flatnonzero(np.diff(sorted_lengths)) + 1
        groups = np.split(np.arange(len(order)), edges) if len(order) else []
        starts = [
            (g[0] + i, min(g[0] + i + batch_size, g[-1] + 1)) for g in groups for i in range(0, len(g), batch_size)
        ]
    else:
        starts = [(s, min(s + batch_size, len(order))) for s in range(0, len(order), batch_size)]
    outputs = [run(order[start:end]) for start, end in starts]
    if not outputs:
        return np.zeros(0)
    result = np.concatenate(outputs)
    restored = np.empty_like(result)
    restored[order] = result
    return restored
