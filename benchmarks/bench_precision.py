"""Does a faster runtime change what the claim model says? ROC-AUC and probabilities of a
trained claim model on the same labelled, generated claims, for each runtime against torch
in float32 (the reference): ONNX Runtime (float32, what `auto` picks on CPUs without fast
bf16), torch's bf16 autocast (where the CPU has AMX or AVX512-BF16), and with `--int8`
ONNX Runtime's dynamic int8 quantisation of the encoder's matrix products (all of them,
and only the feed-forward ones), the candidate that was measured and not taken.

A runtime passes when its largest probability change is at most 0.01 and its ROC-AUC is
within 0.002 of the reference's: the bar `CLAIMLENS_CPU_RUNTIME=auto` had to clear. Rates
are of `claim_probabilities` on all the claims, one runtime after the other (not
interleaved: `bench_scoring` is the speed benchmark).

    .venv/bin/python -m benchmarks.bench_precision --model models/claim_risk/run-1 [--claims 5000]
        [--runtimes torch-fp32,onnxruntime,torch-bf16] [--int8]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from benchmarks.bench_scoring import REFERENCE, RUNTIMES, at_runtime, cpu_features, fast_bf16_seen
from core.data.generator import GeneratorConfig, generate
from core.modeling.inference import claim_probabilities
from core.modeling.models import LoadedModel, load_model
from core.modeling.onnx_encoder import OnnxTextEncoder, export_encoder, inference_session

MAX_CHANGE = 0.01
MAX_AUC_GAP = 0.002


def int8_variant(loaded: LoadedModel, folder: Path, feed_forward_only: bool) -> LoadedModel:
    """`loaded` (a torch model) with its encoder exported and dynamically quantised to int8 by ONNX Runtime."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load_from_string(export_encoder(loaded.model.encoder, ""))
    nodes = None
    if feed_forward_only:  # attention projections stay float32
        nodes = [n.name for n in graph.graph.node if n.op_type == "MatMul" and "attention" not in n.name]
        nodes = [n for n in nodes if "intermediate" in n or "output/dense" in n]
    target = folder / f"encoder-int8{'-ffn' if feed_forward_only else ''}.onnx"
    quantize_dynamic(graph, target, weight_type=QuantType.QInt8, per_channel=True, nodes_to_quantize=nodes)
    model = copy.deepcopy(loaded.model)
    model.encoder = OnnxTextEncoder(inference_session(str(target)), loaded.model.encoder.hidden_size)
    return LoadedModel(model, loaded.tokenizer, loaded.meta, loaded.path, "onnxruntime-int8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--claims", type=int, default=5000)
    parser.add_argument("--runtimes", default=None, help=f"comma-separated, from {', '.join(RUNTIMES)}")
    parser.add_argument("--int8", action="store_true", help="also ONNX Runtime with int8 dynamic quantisation")
    args = parser.parse_args()
    if args.runtimes is None:
        labels = ["onnxruntime", *(["torch-bf16"] if fast_bf16_seen() else [])]
    else:
        labels = [label.strip() for label in args.runtimes.split(",") if label.strip()]
        if unknown := [label for label in labels if label not in RUNTIMES]:
            parser.error(f"unknown runtime(s) {', '.join(unknown)}; choose from {', '.join(RUNTIMES)}")
    labels = [REFERENCE, *[label for label in labels if label != REFERENCE]]
    data = generate(GeneratorConfig(claims=args.claims, seed=2024))
    claims, labels_fraud = data.claims, data.claims["label_fraud"].astype(int).to_numpy(bool)
    print(cpu_features())

    def timed(score: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
        started = time.perf_counter()
        probabilities = score()
        return probabilities, len(claims) / (time.perf_counter() - started)

    results: dict[str, tuple[np.ndarray, float]] = {}
    for label in labels:
        with at_runtime(label):
            loaded = load_model(args.model, "cpu")
            results[label] = timed(lambda loaded=loaded: claim_probabilities(loaded, claims))
    if args.int8:
        with at_runtime(REFERENCE), tempfile.TemporaryDirectory() as scratch:
            loaded = load_model(args.model, "cpu")
            for ffn, label in ((False, "onnxruntime-int8 (all matmuls)"), (True, "onnxruntime-int8 (feed-forward)")):
                quantised = int8_variant(loaded, Path(scratch), ffn)
                results[label] = timed(lambda q=quantised: claim_probabilities(q, claims))
    report(results, labels_fraud, len(claims))


def report(results: dict[str, tuple[np.ndarray, float]], labels: np.ndarray, n: int) -> None:
    reference, reference_rate = results[REFERENCE]
    auc_reference = roc_auc_score(labels, reference)
    rows = []
    for label, (probabilities, rate) in results.items():
        change = np.abs(probabilities - reference)
        auc = roc_auc_score(labels, probabilities)
        passes = change.max() <= MAX_CHANGE and abs(auc - auc_reference) <= MAX_AUC_GAP
        verdict = "reference" if label == REFERENCE else ("yes" if passes else "NO")
        rows.append({"runtime": label, "ROC-AUC": f"{auc:.4f}", "AUC change": f"{auc - auc_reference:+.4f}",
                     "largest |dp|": f"{change.max():.2e}", "mean |dp|": f"{change.mean():.2e}",
                     "claims/s": f"{rate:,.1f}", "vs torch-fp32": f"{rate / reference_rate:.2f}x",
                     "within tolerance": verdict})  # fmt: skip
    print(f"{n} claims; tolerance: largest |dp| <= {MAX_CHANGE}, ROC-AUC within {MAX_AUC_GAP} of torch-fp32")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
