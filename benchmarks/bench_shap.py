"""SHAP speed and fidelity on CPU.

Speed: ClaimLens's explainer (shap Partition explainer over fields and words, `--max-evals`
evaluations, default `core.explain.DEFAULT_MAX_EVALS`) vs `shap.Explainer(pipeline)` with its
defaults on the same narrative text, per claim, one claim at a time; and claims in bulk
(`explain_many` on `--threads` threads, default `core.explain.EXPLAIN_THREADS`, as scoring
runs it). Fidelity: the top-5 factors of ours vs a 2,000-evaluation shap Permutation
explanation of the same claim and model, averaged over claims. The evaluation budgets and
thread counts quoted in `core/explain.py` are runs of this with `--max-evals` and `--threads`.

Runtimes: the same explanations with the model loaded on each of `--runtimes` (default:
torch in float32 and ONNX Runtime on the CPU), claim by claim and then in bulk over
`--rounds` rounds, the runtimes interleaved so that load from other processes hits them
alike; each runtime's time per claim with its ratio to torch float32 (median of the
per-claim and per-round ratios), whether its values add up to the probability that
runtime's scoring gives, and how far its values move from torch float32's.
`--baseline-claims 0` and `--fidelity-claims 0` skip the slow baseline and reference.

    .venv/bin/python -m benchmarks.bench_shap --model models/claim_risk/run-1 [--claims 50] [--baseline-claims 3]
        [--max-evals 300] [--threads 2] [--fidelity-claims N] [--runtimes torch-fp32,onnxruntime] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import shap
from transformers import pipeline
from transformers.utils import logging as transformers_logging

from benchmarks.bench_scoring import REFERENCE, RUNTIMES, at_runtime, build, cpu_features
from benchmarks.common import training_frames
from core.explain import DEFAULT_MAX_EVALS, EXPLAIN_THREADS, Explainer, Explanation
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
    parser.add_argument("--fidelity-claims", type=int, default=None, help="claims compared with the reference")
    parser.add_argument("--runtimes", default="torch-fp32,onnxruntime", help=f"from {', '.join(RUNTIMES)}")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved bulk rounds per runtime")
    args = parser.parse_args()
    if args.max_evals < 1 or args.threads < 1 or args.rounds < 1:
        parser.error("--max-evals, --threads and --rounds must be at least 1")
    labels = [label.strip() for label in args.runtimes.split(",") if label.strip()]
    if unknown := [label for label in labels if label not in RUNTIMES]:
        parser.error(f"unknown runtime(s) {', '.join(unknown)}; choose from {', '.join(RUNTIMES)}")
    print(cpu_features())

    loaded = load_model(args.model)
    claims, _ = training_frames(3000, seed=21)
    probabilities = claim_probabilities(loaded, claims)
    flagged = claims.iloc[np.argsort(-probabilities)[: args.claims]]  # explanations are for flagged claims

    ours = Explainer(loaded, max_evals=args.max_evals)
    reference = Explainer(loaded, method="permutation", max_evals=2000)
    ours.explain(flagged.iloc[0])  # warm-up: shap compiles its partition code once per process
    times, overlaps, gaps = [], [], []
    fidelity_claims = len(flagged) if args.fidelity_claims is None else args.fidelity_claims
    for i, (_, claim) in enumerate(flagged.iterrows()):
        started = time.perf_counter()
        fast = ours.explain(claim)
        times.append(time.perf_counter() - started)
        if i >= fidelity_claims:
            continue
        slow = reference.explain(claim)
        overlaps.append(len({k for k, _ in fast.top_factors(5)} & {k for k, _ in slow.top_factors(5)}))
        gaps.append(
            abs(fast.base_value + sum(fast.fields.values()) + sum(v for _, v in fast.words) - fast.output_value)
        )

    baseline_times = []
    if args.baseline_claims > 0:
        encoder_model, wrapped = build(loaded.meta.base_model, "cpu")
        classifier = pipeline("text-classification", model=wrapped, tokenizer=encoder_model.tokenizer, device="cpu")
        baseline = shap.Explainer(classifier)
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
        f"ClaimLens explainer ({args.max_evals} evaluations, {loaded.runtime} as configured): median "
        f"{np.median(times):.2f} s/claim (p90 {np.percentile(times, 90):.2f})"
    )
    print(f"ClaimLens explainer in bulk (explain_many on {args.threads} thread(s)): {bulk:.2f} s/claim")
    if baseline_times:
        print(
            f"shap.Explainer(pipeline) defaults: median {np.median(baseline_times):.1f} s/claim "
            f"over {len(baseline_times)}; speed-up: {np.median(baseline_times) / np.median(times):.0f}x"
        )
    if overlaps:
        print(
            f"top-5 agreement with the 2,000-evaluation reference: {np.mean(overlaps):.2f} of 5 on average "
            f"over {len(overlaps)} claims; largest |base + sum - output|: {max(gaps):.2e}"
        )
    if len(labels) > 1:
        compare_runtimes(args.model, flagged, [REFERENCE, *[x for x in labels if x != REFERENCE]], args)


def compare_runtimes(model: str, flagged: pd.DataFrame, labels: list[str], args: argparse.Namespace) -> None:
    """The same explanations on each runtime, interleaved claim by claim and round by round."""
    explainers, stored = {}, {}
    for label in labels:
        with at_runtime(label):
            loaded = load_model(model)
            stored[label] = claim_probabilities(loaded, flagged)  # what scoring would store
            explainers[label] = Explainer(loaded, max_evals=args.max_evals)
            explainers[label].explain(flagged.iloc[0])  # warm-up
    seconds: dict[str, list[float]] = {label: [] for label in labels}
    results: dict[str, list[Explanation]] = {label: [] for label in labels}
    for _, claim in flagged.iterrows():
        for label in labels:
            with at_runtime(label):
                started = time.perf_counter()
                results[label].append(explainers[label].explain(claim))
                seconds[label].append(time.perf_counter() - started)
    bulk: dict[str, list[float]] = {label: [] for label in labels}
    for _ in range(args.rounds):
        for label in labels:
            with at_runtime(label):
                started = time.perf_counter()
                explainers[label].explain_many((row for _, row in flagged.iterrows()), threads=args.threads)
                bulk[label].append((time.perf_counter() - started) / len(flagged))
    print(f"runtimes, interleaved ({len(flagged)} claims one at a time, then {args.rounds} bulk rounds):")
    for label in labels:
        per_claim = np.array(seconds[label]) / np.array(seconds[REFERENCE])
        per_round = np.array(bulk[REFERENCE]) / np.array(bulk[label])
        output_gap = max(abs(e.output_value - p) for e, p in zip(results[label], stored[label], strict=True))
        moved = max(
            _largest_change(mine, theirs) for mine, theirs in zip(results[label], results[REFERENCE], strict=True)
        )
        top5 = np.mean([len({k for k, _ in a.top_factors(5)} & {k for k, _ in b.top_factors(5)})
                        for a, b in zip(results[label], results[REFERENCE], strict=True)])  # fmt: skip
        print(
            f"  {label}: median {np.median(seconds[label]):.3f} s/claim ({1 / np.median(per_claim):.2f}x torch-fp32), "
            f"bulk {np.median(bulk[label]):.3f} s/claim ({np.median(per_round):.2f}x; rounds "
            f"{', '.join(f'{b:.3f}' for b in bulk[label])}); largest |output - scored probability| {output_gap:.1e}; "
            f"largest value change vs torch-fp32 {moved:.1e}; top-5 same as torch-fp32 {top5:.2f} of 5"
        )


def _largest_change(mine: Explanation, theirs: Explanation) -> float:
    fields = max((abs(mine.fields[k] - theirs.fields[k]) for k in mine.fields), default=0.0)
    words = max((abs(a - b) for (_, a), (_, b) in zip(mine.words, theirs.words, strict=True)), default=0.0)
    return max(fields, words, abs(mine.base_value - theirs.base_value))


if __name__ == "__main__":
    main()
