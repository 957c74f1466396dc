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


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
def test_values_add_up_to_the_probability_scoring_gives_on_either_cpu_runtime(
    tiny_base_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runtime: str
) -> None:
    from core.config import get_settings
    from core.modeling.inference import claim_probabilities
    from core.modeling.models import load_model, save_model

    claims = generate(GeneratorConfig(claims=40, seed=8)).claims
    spec = FieldSpec.fit(claims)
    torch.manual_seed(2)
    model = ClaimRiskModel(TextEncoder.from_pretrained(tiny_base_model), spec.width).eval()
    meta = ModelMeta(
        task="claim_risk", base_model=tiny_base_model, method="full", max_length=64, field_spec=spec.to_dict()
    )
    monkeypatch.setenv("CLAIMLENS_CPU_RUNTIME", runtime)
    monkeypatch.setenv("CLAIMLENS_INFERENCE_PRECISION", "fp32")
    get_settings.cache_clear()
    try:
        save_model(tmp_path / "claim", model, load_tokenizer(tiny_base_model), meta)
        loaded = load_model(tmp_path / "claim")
        stored = claim_probabilities(loaded, claims)  # what scoring writes
        explainer = Explainer(loaded)
        for i in np.argsort(-stored)[:4]:
            explanation = explainer.explain(claims.iloc[i])
            total = explanation.base_value + sum(explanation.fields.values()) + sum(v for _, v in explanation.words)
            assert total == pytest.approx(float(stored[i]), abs=1e-3)
            assert explanation.output_value == pytest.approx(float(stored[i]), abs=1e-5)
        assert explanation.parameters["runtime"] == loaded.runtime == runtime
        assert explanation.parameters["precision"] == "fp32"
        players = len(explanation.fields) + len(explanation.words)
        # what was run, recorded: more than the default where the claim has many words
        assert explanation.parameters["max_evals"] == max(explainer.max_evals, 2 * players + 2)
        few = Explainer(loaded, max_evals=10).explain(claims.iloc[0])
        assert few.parameters["max_evals"] == 2 * (len(few.fields) + len(few.words)) + 2 > 10
    finally:
        get_settings.cache_clear()
