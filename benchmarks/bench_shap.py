"""SHAP speed and fidelity on CPU.

Speed: ClaimLens's explainer (shap Partition explainer over fields and words, `--max-evals`
evaluations, default `core.explain.DEFAULT_MAX_EVALS`) vs `shap.Explainer(pipeline)` with its
defaults on the same narrative text, per claim, one claim at a time; and claims in bulk
(`explain_many` on `--threads` threads, default `core.explain.EXPLAIN_THREADS`, as scoring
runs it). Fidelity: the top-5 factors of ours vs a 2,000-evaluation shap Permutation
explanation of the same claim and model, averaged over claims. The evaluation budgets and
thread counts quoted in `core/explain.py` are runs of this with `--max-evals` and `--threads`.

    .venv/bin/python -m benchmarks.bench_shap --model models/claim_risk/run-1 [--claims 50] [--baseline-claims 3]
        [--max-evals 300] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import shap
from transformers import pipeline
from transformers.utils import logging as transformers_logging

from benchmarks.bench_scoring import build
from benchmarks.common import training_frames
from core.explain import DEFAULT_MAX_EVALS, EXPLAIN_THREADS, Explainer
from core.modeling.inference import claim_probabilities
from core.modeling.models import load_model


def main() -> None:
    transformers_logging.set_verbosity_error()
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="a claim-risk model folder")
    parser.add_argument("--claims", type=int, default=50)
    parser.add_argument("--baseline-claims", type=int, default=3)
    parser.add_argument(
        "--max-evals", type=int, default=DEFAULT_MAX_EVALS, help="evaluations per explanation for ClaimLens's explainer"
    )
    parser.add_argument(
        "--threads", type=int, default=EXPLAIN_THREADS, help="threads for the bulk timing (explain_many)"
    )
    args = parser.parse_args()
    if args.max_evals < 1 or args.threads < 1:
        parser.error("--max-evals and --threads must be at least 1")

    loaded = load_model(args.model)
    claims, _ = training_frames(3000, seed=21)
    probabilities = claim_probabilities(loaded, claims)
    flagged = claims.iloc[np.argsort(-probabilities)[: args.claims]]  # explanations are for flagged claims

    ours = Explainer(loaded, max_evals=args.max_evals)
    reference = Explainer(loaded, method="permutation", max_evals=2000)
    ours.explain(flagged.iloc[0])  # warm-up: shap compiles its partition code once per process
    times, overlaps, gaps = [], [], []
    for _, claim in flagged.iterrows():
        started = time.perf_counter()
        fast = ours.explain(claim)
        times.append(time.perf_counter() - started)
        slow = reference.explain(claim)
        overlaps.append(len({k for k, _ in fast.top_factors(5)} & {k for k, _ in slow.top_factors(5)}))
        gaps.append(
            abs(fast.base_value + sum(fast.fields.values()) + sum(v for _, v in fast.words) - fast.output_value)
        )

    encoder_model, wrapped = build(loaded.meta.base_model, "cpu")
    classifier = pipeline("text-classification", model=wrapped, tokenizer=encoder_model.tokenizer, device="cpu")
    baseline = shap.Explainer(classifier)
    baseline_times = []
    for text in flagged["narrative"].head(args.baseline_claims):
        started = time.perf_counter()
        baseline([text])
        baseline_times.append(time.perf_counter() - started)

    started = time.perf_counter()
    ours.explain_many((row for _, row in flagged.iterrows()), threads=args.threads)
    bulk = (time.perf_counter() - started) / len(flagged)

    words = flagged["narrative"].str.split().str.len().mean()
    print(f"claims explained: {len(times)} (highest-risk of 3,000), {words:.0f} words per claim on average")
    print(
        f"ClaimLens explainer ({args.max_evals} evaluations): median {np.median(times):.2f} s/claim "
        f"(p90 {np.percentile(times, 90):.2f})"
    )
    print(f"ClaimLens explainer in bulk (explain_many on {args.threads} thread(s)): {bulk:.2f} s/claim")
    print(
        f"shap.Explainer(pipeline) defaults: median {np.median(baseline_times):.1f} s/claim over {len(baseline_times)}"
    )
    print(f"speed-up: {np.median(baseline_times) / np.median(times):.0f}x")
    print(f"top-5 agreement with the 2,000-evaluation reference: {np.mean(overlaps):.2f} of 5 on average")
    print(f"largest |base + sum - output|: {max(gaps):.2e}")


if __name__ == "__main__":
    main()
