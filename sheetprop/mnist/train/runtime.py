"""Torch runtime set-up: CPU threads, the training device, and random-number state for checkpoints."""

from __future__ import annotations

import os

# Must happen before torch is imported: OpenMP threads that spin while waiting make training many times
# slower when the cores are shared with other work. Importers of this module get it for free.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from sheetprop.errors import UserError  # noqa: E402

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
MAX_CPU_THREADS = 4  # more threads than this only add synchronisation cost for a 7.6k-parameter model


def configure_cpu_threads() -> int:
    threads = max(1, min(MAX_CPU_THREADS, os.cpu_count() or 1))
    torch.set_num_threads(threads)
    return threads


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str) -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an explicit device that is not available is a UserError."""
    if name not in DEVICE_CHOICES:
        raise UserError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        build = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise UserError(f"--device cuda: PyTorch {torch.__version__} ({build}) sees no CUDA device; use --device cpu")
    if name == "mps" and not _mps_available():
        raise UserError("--device mps: Apple's Metal backend is not available here; use --device cpu")
    return torch.device(name)


def rng_state(device: torch.device) -> dict:
    """Everything random in training (shuffling, augmentation, dropout) draws from these generators."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    elif device.type == "mps":
        state["mps"] = torch.mps.get_rng_state()
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
    elif device.type == "mps" and "mps" in state:
        torch.mps.set_rng_state(state["mps"])


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)  # seeds the CPU and every CUDA/MPS generator
