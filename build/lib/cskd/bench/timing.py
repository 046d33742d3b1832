"""A timed measurement and the device synchronisation that makes wall-clock times honest on CUDA."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Measurement:
    """``images`` student-images trained in ``seconds`` of wall-clock time; ``memory`` describes the peak and
    ``others_cpus`` is how many CPUs other processes kept busy meanwhile (None: unknown)."""

    images: int
    seconds: float
    memory: str = ""
    others_cpus: float | None = None

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA kernels run asynchronously); nothing to wait for on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
