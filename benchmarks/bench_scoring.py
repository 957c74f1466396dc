"""Scoring speed: ClaimLens batch inference vs `pipeline("text-classification")` with defaults.

Same model (the sentiment model: MiniLM encoder + mean pooling + linear head, wrapped as
a `PreTrainedModel` so the pipeline can run it), same texts, same device, one run; the
predictions are checked to agree. Texts: claimant messages and, as longer inputs, claim
narratives.

`--batch-size` sets ClaimLens's batch size (default: the one scoring uses on the device).

    .venv/bin/python -m benchmarks.bench_scoring [--device cpu|cuda] [--texts N] [--base-model PATH] [--batch-size N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from transformers import PretrainedConfig, PreTrainedModel, pipeline
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.utils import logging as transformers_logging

from benchmarks.common import at_precision, training_frames
from core.modeling.encoder import TextEncoder, default_base_model, load_tokenizer
from core.modeling.inference import message_probabilities
from core.modeling.models import SENTIMENT_LABELS, LoadedModel, ModelMeta, SentimentModel
from core.modeling.precision import precision_name


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
    loaded: LoadedModel,
    wrapped: PipelineModel,
    device: str,
    n_pipe: int,
    batch_size: int | None = None,
) -> None:
    classifier = pipeline("text-classification", model=wrapped, tokenizer=loaded.tokenizer, device=device,
                          truncation=True, max_length=128)  # fmt: skip
    sample = texts[:n_pipe]
    started = time.perf_counter()
    theirs = classifier(sample)
    pipe_rate = len(sample) / (time.perf_counter() - started)
    frame = pd.DataFrame({"text": texts})
    message_probabilities(loaded, frame.head(64), batch_size=batch_size)  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    ours = message_probabilities(loaded, frame, batch_size=batch_size)  # None: the batch size scoring uses here
    if device == "cuda":
        torch.cuda.synchronize()
    our_rate = len(texts) / (time.perf_counter() - started)
    with at_precision("fp32"):
        reference = message_probabilities(loaded, frame, batch_size=batch_size)
    agree = np.mean(
        [SENTIMENT_LABELS[int(np.argmax(p))] == t["label"] for p, t in zip(ours[:n_pipe], theirs, strict=True)]
    )
    words = np.mean([len(t.split()) for t in texts])
    print(f"{name} ({len(texts)} texts, {words:.0f} words on average):")
    print(f"  pipeline defaults: {pipe_rate:,.1f}/s   ClaimLens: {our_rate:,.1f}/s   ratio {our_rate / pipe_rate:.1f}x")
    print(f"  same predicted label on {agree:.1%} of the {len(sample)} texts both scored")
    print(
        f"  precision {_precision(loaded)}: largest probability change against float32 "
        f"{np.abs(ours - reference).max():.5f}, same label on {np.mean(ours.argmax(1) == reference.argmax(1)):.1%}"
    )


def _precision(loaded: LoadedModel) -> str:
    return precision_name(next(loaded.model.parameters()).device)


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
    args = parser.parse_args()
    if args.batch_size is not None and args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    on_gpu = args.device == "cuda"
    n = args.texts or (200_000 if on_gpu else 3000)
    n_pipe = 2000 if on_gpu else 400
    if not on_gpu:
        torch.set_num_threads(torch.get_num_threads())
    claims, messages = training_frames(max(1000, int(n / 1.3)))
    loaded, wrapped = build(args.base_model or default_base_model(), args.device)
    for name, texts in (("messages", messages["text"]), ("claim narratives", claims["narrative"])):
        compare(name, texts.tolist()[:n], loaded, wrapped, args.device, n_pipe, args.batch_size)


if __name__ == "__main__":
    main()
