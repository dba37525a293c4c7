"""torch set-up shared by every model that runs one: the import, the device and the precision.

torch and transformers are imported inside `import_torch`, so the core install (no torch) still
imports `training`; without them a fit fails in one line that says how to install them.

Precision, from the setting's three values (`model.bf16`, null by default):
- null: on a GPU, bf16 autocast when the card supports it (Ampere and later), else fp16 autocast
  with a gradient scaler; on a CPU, bf16 autocast when the CPU runs it fast (avx512_bf16 or AMX:
  ~5x faster than fp32 there), else fp32;
- true: bf16 (refused on a GPU without bf16);
- false: fp32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from srcrel_core.errors import ConfigError, TrainingError

__all__ = ["FINETUNE_EXTRA", "Precision", "autocast", "bf16_supported", "grad_scaler", "import_torch",
           "pick_device", "pick_precision"]

FINETUNE_EXTRA = ("model=finetune needs the finetune extra: make finetune-install "
                  "(installs torch==2.13.0, then .[finetune])")
Precision = Literal["fp32", "bf16", "fp16"]


def import_torch(missing: str = FINETUNE_EXTRA) -> tuple[Any, Any]:
    """torch and transformers, or the one-line TrainingError `missing` that says how to install them."""
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise TrainingError(missing) from exc
    transformers.logging.set_verbosity_error()  # "some weights were newly initialised": the head, expected
    transformers.utils.logging.disable_progress_bar()
    return torch, transformers


def pick_device(torch: Any, device: str, *, setting: str = "model.device") -> str:
    """cuda or cpu for `device` in auto, cpu, cuda; cuda without a GPU is refused."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{setting}=cuda but torch sees no GPU; use {setting}=auto or cpu")
    if device not in {"auto", "cpu", "cuda"}:
        raise ConfigError(f"{setting}={device}: use auto, cpu or cuda")
    return "cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu"


def bf16_supported(torch: Any, device: str) -> bool:
    """bf16 runs natively (a GPU that has it) or fast (a CPU with avx512_bf16 or AMX) on `device`."""
    if device == "cuda":  # natively: torch's default also counts Turing and Volta, which only emulate it
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    try:  # oneDNN runs bf16 fast only with these instructions; elsewhere autocast is slower than fp32
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_precision(torch: Any, device: str, bf16: bool | None, *, setting: str = "model.bf16") -> Precision:
    """The autocast precision of a model on `device` (see the module's docstring)."""
    if bf16 is False:
        return "fp32"
    native = bf16_supported(torch, device)
    if bf16 is True:
        if device == "cuda" and not native:
            raise ConfigError(f"{setting}=true but this GPU has no bf16; leave {setting}=null (fp16 "
                              f"autocast with a gradient scaler) or set {setting}=false (fp32)")
        return "bf16"
    if native:
        return "bf16"
    return "fp16" if device == "cuda" else "fp32"


def autocast(torch: Any, device: str, precision: Precision) -> Any:
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    return torch.autocast(device, dtype=dtype, enabled=precision != "fp32")


def grad_scaler(torch: Any, device: str, precision: Precision) -> Any:
    """fp16 gradients underflow without loss scaling; a disabled scaler passes everything through."""
    return torch.amp.GradScaler(device, enabled=precision == "fp16")
