"""Mixed precision: the autocast dtype a run uses and, for fp16, its grad scaler.

`auto` is bf16 autocast on CUDA GPUs that have it (Ampere and newer), fp16 with
a GradScaler on older ones, and off elsewhere: CPU autocast is an explicit
choice (--amp bf16), because it changes the numerics of CPU runs such as the
tiny preset's. The other modes apply on any device whose autocast supports the
dtype, which is how the CUDA code path is exercised on a CPU-only machine.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

AMP_MODES = ("auto", "off", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class PrecisionError(ValueError):
    """An --amp choice this device cannot honour."""


def resolve_amp(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `mode` on `device`; None means full float32."""
    if mode not in AMP_MODES:
        raise PrecisionError(f"--amp must be one of {', '.join(AMP_MODES)}, got {mode!r}")
    if mode == "off":
        return None
    if mode == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if not torch.amp.autocast_mode.is_autocast_available(device.type):
        raise PrecisionError(f"--amp {mode}: torch has no autocast for device {device.type}; use --amp off")
    if mode == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise PrecisionError("--amp bf16: this GPU has no bfloat16 support; use --amp fp16 (with a grad scaler) or auto")
    return _DTYPES[mode]


def autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler | None:
    # fp16 gradients underflow without loss scaling; bf16 has fp32's exponent range and needs none.
    return torch.amp.GradScaler(device.type) if dtype == torch.float16 else None


def amp_name(dtype: torch.dtype | None) -> str:
    return str(dtype).replace("torch.", "") if dtype is not None else "off"
