"""Training throughput: ClaimLens's loop vs the Hugging Face `Trainer` with default arguments.

Same model (the sentiment model: MiniLM encoder + mean pooling + linear head, full
fine-tuning), same messages, same device, in one run; prints samples/s and the ratio.

    .venv/bin/python -m benchmarks.bench_training [--device cpu|cuda] [--samples N] [--batch-size B]

Trainer defaults: batch 8, fp32, no length grouping. Ours: length-bucketed dynamic
padding, large batches; on CUDA also bf16 autocast and fused AdamW.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from accelerate import Accelerator
from datasets import Dataset
from torch import nn
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

from benchmarks.common import training_frames
from core.modeling.encoder import TextEncoder, default_base_model, load_tokenizer
from core.modeling.models import SentimentModel
from core.run_spec import TrainingConfig
from training.splits import Splits
from training.tasks import SentimentTask, sentiment_targets


class WithLoss(nn.Module):
    """The same model, with the `forward(..., labels) -> {"loss"}` contract Trainer expects."""

    def __init__(self, model: SentimentModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor) -> dict:  # type: ignore[type-arg]
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}


def trainer_rate(base: str, texts: list[str], labels: list[int], steps: int, use_cpu: bool) -> float:
    tokenizer = load_tokenizer(base)
    encoded = tokenizer(texts, truncation=True, max_length=128)
    dataset = Dataset.from_dict({**encoded, "labels": labels})
    model = WithLoss(SentimentModel(TextEncoder.from_pretrained(base)))
    with tempfile.TemporaryDirectory() as folder:
        args = TrainingArguments(output_dir=folder, max_steps=steps, report_to=[], save_strategy="no", use_cpu=use_cpu)
        trainer = Trainer(model=model, args=args, train_dataset=dataset,
                          data_collator=DataCollatorWithPadding(tokenizer))  # fmt: skip
        metrics = trainer.train().metrics
    return float(metrics["train_samples_per_second"])


def our_rate(base: str, splits: Splits, batch_size: int, accelerator: Accelerator) -> float:
    config = TrainingConfig(task="sentiment", method="full", profile="full", base_model=base, epochs=1,
                            batch_size=batch_size, max_length=128, patience=1)  # fmt: skip
    task = SentimentTask(config, splits, accelerator)
    if accelerator.device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    task.train(on_progress=None)
    if accelerator.device.type == "cuda":
        torch.cuda.synchronize()
    return len(splits.train) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--samples", type=int, default=None, help="training messages for our loop")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--trainer-steps", type=int, default=None)
    parser.add_argument("--base-model", default=None)
    args = parser.parse_args()
    on_gpu = args.device == "cuda"
    samples = args.samples or (60_000 if on_gpu else 768)
    batch_size = args.batch_size or (1024 if on_gpu else 64)
    trainer_steps = args.trainer_steps or (300 if on_gpu else 24)
    base = args.base_model or default_base_model()

    _, messages = training_frames(max(2000, samples // 1.4 + 200).__int__())
    train = messages.head(samples).reset_index(drop=True)
    validation = messages.tail(64).reset_index(drop=True)
    splits = Splits(train=train, validation=validation, test=validation)
    labels = sentiment_targets(train).tolist()

    theirs = trainer_rate(base, train["text"].tolist()[: trainer_steps * 8], labels[: trainer_steps * 8],
                          trainer_steps, use_cpu=not on_gpu)  # fmt: skip
    ours = our_rate(base, splits, batch_size, Accelerator(cpu=not on_gpu))
    name = torch.cuda.get_device_name() if on_gpu else "cpu"
    print(f"device={name} messages={len(train)} mean_words={train['text'].str.split().str.len().mean():.1f}")
    print(f"Trainer (defaults: batch 8, fp32): {theirs:,.1f} samples/s")
    print(f"ClaimLens loop (batch {batch_size}{', bf16, fused AdamW' if on_gpu else ''}): {ours:,.1f} samples/s")
    print(f"ratio: {ours / theirs:.1f}x")


if __name__ == "__main__":
    main()
