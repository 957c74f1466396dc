"""Scoring speed: ClaimLens batch inference vs `pipeline("text-classification")` with defaults.

Same model (the sentiment model: MiniLM encoder + mean pooling + linear head, wrapped as
a `PreTrainedModel` so the pipeline can run it), same texts, same device, one run; the
predictions are checked to agree. Texts: claimant messages and, as longer inputs, claim
narratives.

ClaimLens runs once per runtime (`--runtimes`, default: torch in float32, ONNX Runtime,
and torch in bf16 where the CPU has AMX or AVX512-BF16), interleaved over `--rounds`
rounds so that load from other processes hits all of them alike; each is reported with
its ratio to torch float32 in the same round (median over rounds) and its largest
probability change against it. The first line says which CPU features this process sees
(CPUID, as torch reads it): run it under `benchmarks/avx2only.c` to see an AVX2-only CPU.

`--batch-size` sets ClaimLens's batch size (default: the one scoring uses on the device).

    .venv/bin/python -m benchmarks.bench_scoring [--device cpu|cuda] [--texts N] [--base-model PATH] [--batch-size N]
        [--runtimes torch-fp32,onnxruntime,torch-bf16] [--rounds 3] [--threads N] [--n-pipe N]
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from transformers import PretrainedConfig, PreTrainedModel, pipeline
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.utils import logging as transformers_logging

from benchmarks.common import at_precision, training_frames
from core.config import get_settings
from core.modeling.encoder import TextEncoder, default_base_model, load_tokenizer
from core.modeling.inference import message_probabilities
from core.modeling.models import SENTIMENT_LABELS, LoadedModel, ModelMeta, SentimentModel
from core.modeling.onnx_encoder import to_onnxruntime

# runtime label -> (CLAIMLENS_CPU_RUNTIME, CLAIMLENS_INFERENCE_PRECISION)
RUNTIMES = {"torch-fp32": ("torch", "fp32"), "onnxruntime": ("onnxruntime", "fp32"), "torch-bf16": ("torch", "bf16")}
REFERENCE = "torch-fp32"
RUNTIME_ENV = "CLAIMLENS_CPU_RUNTIME"


@contextmanager
def at_runtime(label: str) -> Iterator[None]:
    """Run the block with the settings of runtime `label` (models loaded inside it use that runtime)."""
    runtime, precision = RUNTIMES[label]
    previous = os.environ.get(RUNTIME_ENV)
    os.environ[RUNTIME_ENV] = runtime
    get_settings.cache_clear()
    try:
        with at_precision(precision):
            yield
    finally:
        if previous is None:
            os.environ.pop(RUNTIME_ENV, None)
        else:
            os.environ[RUNTIME_ENV] = previous
        get_settings.cache_clear()


def cpu_features() -> str:
    """The CPU features this process sees through CPUID (torch's cpuinfo), and torch's kernel level."""
    import torch.cpu

    checks = {"AVX2": "_is_avx2_supported", "AVX512": "_is_avx512_supported",
              "AVX512-BF16": "_is_avx512_bf16_supported", "AMX": "_is_amx_tile_supported",
              "VNNI": "_is_vnni_supported"}  # fmt: skip
    seen = [name for name, check in checks.items() if getattr(torch.cpu, check, lambda: False)()]
    return (
        f"CPU features seen: {', '.join(seen) or 'none of ' + '/'.join(checks)}; torch kernels "
        f"{torch.backends.cpu.get_cpu_capability()}; {torch.get_num_threads()} threads"
    )


def fast_bf16_seen() -> bool:
    import torch.cpu

    return any(
        getattr(torch.cpu, check, lambda: False)() for check in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    )


@dataclass
class Variant:
    label: str
    loaded: LoadedModel


def variants(loaded: LoadedModel, labels: list[str], device: str) -> list[Variant]:
    """The same model once per runtime: ONNX Runtime gets its own exported copy of the encoder."""
    made = []
    for label in labels:
        if RUNTIMES[label][0] == "onnxruntime":
            if device != "cpu":
                continue
            model = copy.deepcopy(loaded.model)
            model.encoder = to_onnxruntime(model.encoder)
            made.append(Variant(label, LoadedModel(model, loaded.tokenizer, loaded.meta, loaded.path, "onnxruntime")))
        else:
            made.append(Variant(label, loaded))
    return made


def interleaved(
    variants: list[Variant], rounds: int, run: Callable[[LoadedModel], np.ndarray], count: int
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, np.ndarray]]:
    """Rates of each variant per round, all variants once per round: items per wall-clock
    second, items per CPU-second of this process (all its threads; less sensitive to other
    processes' load, but it counts threads that spin while waiting); and their last outputs."""
    rates: dict[str, list[float]] = {v.label: [] for v in variants}
    cpu_rates: dict[str, list[float]] = {v.label: [] for v in variants}
    outputs: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for variant in variants:
            with at_runtime(variant.label):
                started, cpu_started = time.perf_counter(), time.process_time()
                outputs[variant.label] = run(variant.loaded)
                rates[variant.label].append(count / (time.perf_counter() - started))
                cpu_rates[variant.label].append(count / max(time.process_time() - cpu_started, 1e-9))
    return rates, cpu_rates, outputs


def ratio_to_reference(rates: dict[str, list[float]], label: str) -> float:
    """Median over rounds of this variant's rate over the reference's rate in the same round."""
    return float(np.median(np.array(rates[label]) / np.array(rates[REFERENCE])))


class PipelineModel(PreTrainedModel):
    """The same SentimentModel behind the interface `pipeline` expects."""

    config_class = PretrainedConfig

    def __init__(self, config: PretrainedConfig, model: SentimentModel) -> None:
        super().__init__(config)
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: object) -> SequenceClassifierOutput:
        logits = self.model.calibrated(self.model(input_ids=input_ids, attention_mask=attention_mask))
        return SequenceClassifierOutput(logits=logits)


def build(base: str, device: str) -> tuple[LoadedModel, PipelineModel]:
    torch.manual_seed(0)
    tokenizer = load_tokenizer(base)
    model = SentimentModel(TextEncoder.from_pretrained(base)).to(device).eval()
    meta = ModelMeta(task="sentiment", base_model=base, method="full", max_length=128, labels=list(SENTIMENT_LABELS))
    labels = dict(enumerate(SENTIMENT_LABELS))
    config = PretrainedConfig(id2label=labels, label2id={label: i for i, label in labels.items()})
    return LoadedModel(model, tokenizer, meta, path=None), PipelineModel(config, model).eval()  # type: ignore[arg-type]


def compare(
    name: str,
    texts: list[str],
    runs: list[Variant],
    wrapped: PipelineModel,
    device: str,
    n_pipe: int,
    batch_size: int | None = None,
    rounds: int = 3,
) -> None:
    tokenizer = runs[0].loaded.tokenizer
    classifier = pipeline("text-classification", model=wrapped, tokenizer=tokenizer, device=device,
                          truncation=True, max_length=128)  # fmt: skip
    sample = texts[:n_pipe]
    with at_precision("fp32"):
        started = time.perf_counter()
        theirs = classifier(sample)
        pipe_rate = len(sample) / (time.perf_counter() - started)
    frame = pd.DataFrame({"text": texts})

    def run(loaded: LoadedModel) -> np.ndarray:
        result = message_probabilities(loaded, frame, batch_size=batch_size)  # None: the batch size scoring uses
        if device == "cuda":
            torch.cuda.synchronize()
        return result

    for variant in runs:  # warm-up
        with at_runtime(variant.label):
            message_probabilities(variant.loaded, frame.head(64), batch_size=batch_size)
    rates, cpu_rates, outputs = interleaved(runs, rounds, run, len(texts))
    reference = outputs[REFERENCE]
    words = np.mean([len(t.split()) for t in texts])
    print(f"{name} ({len(texts)} texts, {words:.0f} words on average, {rounds} interleaved rounds):")
    print(f"  pipeline defaults: {pipe_rate:,.1f}/s (float32)")
    for variant in runs:
        ours = outputs[variant.label]
        median = float(np.median(rates[variant.label]))
        change = np.abs(ours - reference).max()
        same = np.mean(ours.argmax(1) == reference.argmax(1))
        agree = np.mean(
            [SENTIMENT_LABELS[int(np.argmax(p))] == t["label"] for p, t in zip(ours[:n_pipe], theirs, strict=True)]
        )
        each = ", ".join(f"{r:,.1f}" for r in rates[variant.label])
        print(
            f"  ClaimLens {variant.label}: {median:,.1f}/s (rounds: {each})"
            f"  {ratio_to_reference(rates, variant.label):.2f}x torch-fp32, {median / pipe_rate:.1f}x pipeline;"
            f" largest probability change against torch-fp32 {change:.2e}, same label {same:.1%};"
            f" same label as the pipeline on {agree:.1%} of {len(sample)}"
        )
        print(
            f"    per CPU-second: {np.median(cpu_rates[variant.label]):,.1f} "
            f"({ratio_to_reference(cpu_rates, variant.label):.2f}x torch-fp32)"
        )


def main() -> None:
    transformers_logging.set_verbosity_error()  # the wrapper is "not a supported model": we know
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--texts", type=int, default=None)
    parser.add_argument("--base-model", default=None)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="ClaimLens batch size (default: the one scoring uses on the device)",
    )
    parser.add_argument("--runtimes", default=None, help=f"comma-separated, from {', '.join(RUNTIMES)}")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's, one per core)")
    parser.add_argument("--n-pipe", type=int, default=None, help="texts the pipeline scores (default 400 on CPU)")
    args = parser.parse_args()
    if args.batch_size is not None and args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    labels = parse_runtimes(parser, args.runtimes, args.device)
    on_gpu = args.device == "cuda"
    n = args.texts or (200_000 if on_gpu else 3000)
    n_pipe = args.n_pipe or (2000 if on_gpu else 400)
    if not on_gpu:
        torch.set_num_threads(args.threads or torch.get_num_threads())  # ONNX Runtime sessions follow it
    claims, messages = training_frames(max(1000, int(n / 1.3)))
    loaded, wrapped = build(args.base_model or default_base_model(), args.device)
    runs = variants(loaded, labels, args.device)
    print(cpu_features() if args.device == "cpu" else f"device: {torch.cuda.get_device_name()}")
    for name, texts in (("messages", messages["text"]), ("claim narratives", claims["narrative"])):
        compare(name, texts.tolist()[:n], runs, wrapped, args.device, n_pipe, args.batch_size, args.rounds)


def parse_runtimes(parser: argparse.ArgumentParser, given: str | None, device: str) -> list[str]:
    """The runtimes asked for (torch-fp32, the reference, always first), or the default set."""
    if given is None:
        labels = ["onnxruntime"] if device == "cpu" else []
        if fast_bf16_seen() if device == "cpu" else torch.cuda.is_bf16_supported():
            labels.append("torch-bf16")
    else:
        labels = [label.strip() for label in given.split(",") if label.strip()]
        unknown = [label for label in labels if label not in RUNTIMES]
        if unknown:
            parser.error(f"unknown runtime(s) {', '.join(unknown)}; choose from {', '.join(RUNTIMES)}")
    return [REFERENCE, *[label for label in labels if label != REFERENCE]]


if __name__ == "__main__":
    main()
