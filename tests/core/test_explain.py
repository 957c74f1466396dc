"""The explainer's pieces that additivity cannot check: partition SHAP sums to f(all) - f(none)
whatever the coalitions in between are given, so the word-coalition cache is tested directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.data.generator import GeneratorConfig, generate
from core.explain import Explainer, _EmbeddingCache, split_words
from core.modeling.encoder import TextEncoder, load_tokenizer
from core.modeling.features import FieldSpec
from core.modeling.models import ClaimRiskModel, LoadedModel, ModelMeta


@pytest.fixture(scope="module")
def explainer(tiny_base_model: str) -> Explainer:
    claims = generate(GeneratorConfig(claims=50, seed=3)).claims
    spec = FieldSpec.fit(claims)
    torch.manual_seed(1)
    model = ClaimRiskModel(TextEncoder.from_pretrained(tiny_base_model), spec.width).eval()
    meta = ModelMeta(
        task="claim_risk", base_model=tiny_base_model, method="full", max_length=64, field_spec=spec.to_dict()
    )
    return Explainer(LoadedModel(model, load_tokenizer(tiny_base_model), meta, path=Path("unsaved")))


def test_the_cache_returns_each_coalitions_own_embedding_across_batches(explainer: Explainer) -> None:
    words = split_words(explainer.loaded.tokenizer, "water came through the kitchen ceiling after the storm", 64)
    encoded: list[int] = []

    def encode(masks: np.ndarray) -> torch.Tensor:
        encoded.append(len(masks))
        return explainer._embed(masks, words)

    cache = _EmbeddingCache(encode)
    rng = np.random.default_rng(0)
    pool = rng.random((12, len(words.words))) < 0.5  # 12 coalitions, asked for in overlapping batches
    seen: set[bytes] = set()
    with torch.inference_mode():
        for _ in range(5):
            batch = pool[rng.integers(0, len(pool), size=9)]
            got = cache.lookup(batch)
            assert torch.allclose(got, explainer._embed(batch, words), atol=1e-5)
            seen |= {row.tobytes() for row in batch}
        assert sum(encoded) == len(seen)  # every distinct coalition encoded once, none again
        assert cache.lookup(pool[:0]).shape[0] == 0
