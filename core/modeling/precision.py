"""The numeric precision models run at for scoring and explanations, and what runs the
text encoder on the CPU (`cpu_runtime`: eager torch, or ONNX Runtime in float32, see
`core.modeling.onnx_encoder`).

bf16 roughly doubles encoder speed on GPUs and on CPUs with AMX or AVX512-BF16 (measured
on this project's 2-core CPU: 176 -> 262 narratives/s). Its rounding depends on the
shapes a matrix product sees, so scoring runs texts in batches of exactly equal length
(no padding): then a claim's probability is the same whatever it is batched with (to
float32 rounding, tested on CPU with MiniLM; not yet checked on a GPU), and the explainer
(whose masked copies of a claim keep its length) reproduces it, which keeps SHAP values
adding up to the stored probability.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import torch

from core.config import get_settings
from core.errors import InvalidInput
from core.modeling import onnx_encoder

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:  # not Linux: stay with float32
        return False
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def uses_bf16(device: torch.device) -> bool:
    choice = get_settings().inference_precision
    if choice != "auto":
        return choice == "bf16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_fast_bf16()


def cpu_runtime(device: torch.device) -> str:
    """`onnxruntime` or `torch`: what runs the text encoder of a model loaded onto `device`.

    ONNX Runtime only on the CPU; `auto` takes it unless the encoder would run in bf16
    there (explicitly, or by `auto` on a CPU with fast bf16), which only torch does.
    """
    if device.type != "cpu":
        return "torch"
    choice = get_settings().cpu_runtime
    if choice == "auto":
        return "torch" if uses_bf16(device) or not onnx_encoder.available() else "onnxruntime"
    if choice == "onnxruntime" and not onnx_encoder.available():
        raise InvalidInput("CLAIMLENS_CPU_RUNTIME=onnxruntime needs the onnxruntime and onnx packages (make install)")
    return choice


def precision_name(device: torch.device, runtime: str = "torch") -> str:
    """`bf16` or `fp32`: what the encoder runs at on `device` under `runtime`, for the record
    (ONNX Runtime always runs it in float32)."""
    return "bf16" if runtime == "torch" and uses_bf16(device) else "fp32"


@contextlib.contextmanager
def inference_precision(device: torch.device) -> Iterator[None]:
    """Run the block at the configured precision."""
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=uses_bf16(device)):
        yield
