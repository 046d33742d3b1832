"""The engine's CPU speed levers: bf16 autocast where the CPU computes in bf16, and ``torch.compile`` (inductor).

* **bf16 autocast** (``--amp``) runs convolutions and matrix products in bfloat16 (8 bits of mantissa instead of
  fp32's 23), so it changes the numbers a run produces: it is a recorded option that enters the run id, never a
  silent default (:func:`cskd.settings.numerics_config`). On the CPU it pays only with hardware bf16 (Intel AMX or
  AVX512-BF16); elsewhere oneDNN emulates it, slower than fp32, so asking for it there is an error
  (:func:`check_amp`).
* **torch.compile** (``--compile``) keeps fp32 numerics up to rounding (inductor fuses elementwise work around
  oneDNN's convolutions, which changes the order of some floating-point sums, not the precision), so it is not part
  of the run id, like the thread count. It is opt-in: on the 2-core development CPU, the quick suite's first run took
  930 s compiled against 297 s eager (run side by side), its compilation costing more than a CPU-scale run saves
  (docs/performance.md). :class:`CompiledOrEager` compiles a function on its first call and falls back to the eager
  function, with a one-line note, when compiling fails.
* The compiled code is cached on disk (inductor's FX graph and AOTAutograd caches, :func:`use_compile_cache`), so a
  sweep compiles each model once and later processes load the kernels.

Measured in docs/performance.md (``benchmarks/throughput.py --levers compile,bf16``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

#: CPU flags (``/proc/cpuinfo``) of hardware bf16 arithmetic: Intel AMX tiles, AVX512-BF16
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
#: environment variable of inductor's on-disk cache (torch's own name); set only when the user has not
CACHE_VARIABLE = "TORCHINDUCTOR_CACHE_DIR"
#: folder of the compile cache inside a results folder (``cskd run``) or next to ``cskd train``'s output folder
COMPILE_CACHE = ".compile-cache"
#: torch.compile backend of :class:`CompiledOrEager` (tests may use "aot_eager": same tracing, no code generation)
BACKEND: Any = "inductor"

Result = TypeVar("Result")


class AmpUnsupportedError(ValueError):
    """bf16 autocast asked for on a device that has no fast bf16 arithmetic."""


def cpu_bf16_flags() -> list[str]:
    """The hardware bf16 features of this CPU, from torch's own probe (``torch.cpu``) or else ``/proc/cpuinfo``."""
    probes = {"amx_bf16": "_is_amx_tile_supported", "avx512_bf16": "_is_avx512_bf16_supported"}
    found = [flag for flag, probe in probes.items() if getattr(torch.cpu, probe, lambda: False)()]
    if found or not Path("/proc/cpuinfo").exists():
        return found
    flags = set(Path("/proc/cpuinfo").read_text(errors="replace").split())
    return [flag for flag in BF16_CPU_FLAGS if flag in flags]


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or the platform's processor string."""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    import platform

    return platform.processor() or "unknown CPU"


def check_amp(amp: bool, device: torch.device) -> None:
    """Raise :class:`AmpUnsupportedError` when bf16 autocast is asked for on a CPU without hardware bf16."""
    if amp and device.type == "cpu" and not cpu_bf16_flags():
        raise AmpUnsupportedError(
            f"--amp: this CPU ({cpu_model()}) has no hardware bf16 (neither of the flags {', '.join(BF16_CPU_FLAGS)} "
            "in /proc/cpuinfo), where bf16 autocast is emulated and slower than fp32: drop --amp"
        )


def autocast(amp: bool, device: torch.device) -> AbstractContextManager:
    """bf16 autocast on ``device`` when ``amp``, else nothing (fp32)."""
    if amp and device.type in ("cpu", "cuda"):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()


def use_compile_cache(folder: Path) -> Path:
    """Keep inductor's compiled kernels under ``folder`` (unless ``TORCHINDUCTOR_CACHE_DIR`` is set already), with its
    FX graph and AOTAutograd caches on, so every process of a sweep after the first loads them; returns the folder in
    use."""
    os.environ.setdefault(CACHE_VARIABLE, str(folder))
    import torch._functorch.config as functorch_config
    import torch._inductor.config as inductor_config

    inductor_config.fx_graph_cache = True
    if hasattr(functorch_config, "enable_autograd_cache"):
        functorch_config.enable_autograd_cache = True
    return Path(os.environ[CACHE_VARIABLE])


class CompiledOrEager:
    """``function`` through ``torch.compile`` when ``enabled``; when compiling (or running the compiled code, its
    backward included) fails, the eager ``function`` from then on, with a one-line note on stderr naming ``label``.

    :meth:`run` calls ``step`` (a forward and backward that does not yet step the optimiser) with the function to
    use. A first compiled step may fail after a module's buffers (BatchNorm's running statistics) were updated, so
    until one compiled step has succeeded the buffers of ``keep`` are saved and restored before the eager retry: the
    fallback trains exactly as an eager run.
    """

    def __init__(self, function: Callable[..., Any], enabled: bool, label: str) -> None:
        self.eager = function
        self.label = label
        self.backend = BACKEND
        # static shapes: a run has one batch size and a last partial batch, each compiled once (then cached)
        self.compiled: Callable[..., Any] | None = (
            torch.compile(function, backend=BACKEND, dynamic=False) if enabled else None
        )
        self.proven = False  # a compiled step has succeeded: from then on its errors are the step's own
        self.fallback_error = ""

    @property
    def mode(self) -> str:
        """What runs: ``inductor`` (compiled), ``eager`` or ``eager (compile failed)``."""
        if self.compiled is not None:
            return self.backend if isinstance(self.backend, str) else "compiled"
        return "eager (compile failed)" if self.fallback_error else "eager"

    def run(self, step: Callable[[Callable[..., Any]], Result], keep: list[nn.Module]) -> Result:
        if self.compiled is None:
            return step(self.eager)
        if self.proven:
            return step(self.compiled)
        saved = [_buffers(module) for module in keep]
        try:
            result = step(self.compiled)
        except Exception as error:
            self._fall_back(error)
            for module, buffers in zip(keep, saved, strict=True):
                module.load_state_dict(buffers, strict=False)
            return step(self.eager)
        self.proven = True
        return result

    def _fall_back(self, error: Exception) -> None:
        message = " ".join(str(error).split())[:200]
        self.fallback_error = f"{type(error).__name__}: {message}"
        self.compiled = None
        print(
            f"note: torch.compile failed for {self.label}; training it eagerly ({self.fallback_error})", file=sys.stderr
        )


def _buffers(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: buffer.detach().clone() for name, buffer in module.named_buffers()}
