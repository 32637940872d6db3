"""Save and load the per-epoch training checkpoint (atomically, so Ctrl-C never leaves half a file)."""

from __future__ import annotations

from pathlib import Path

import torch

from sheetprop.atomic import atomic_output
from sheetprop.errors import UserError

FORMAT_VERSION = 1


def checkpoint_path_for(out: Path) -> Path:
    """``output/mnist.xlsx`` -> ``output/mnist.ckpt.pt``."""
    return out.with_name(f"{out.stem}.ckpt.pt")


def save_checkpoint(path: Path, state: dict) -> None:
    with atomic_output(path) as tmp:
        torch.save({"format_version": FORMAT_VERSION, **state}, tmp)


def load_checkpoint(path: Path, device: torch.device, what: str = "--resume") -> dict:
    """The checkpoint's state; ``what`` starts each error message (the option or command reading it)."""
    if not path.is_file():
        hint = "run without --resume first (same --out)" if what == "--resume" else "train one with 'sheetprop mnist'"
        raise UserError(f"{what}: no checkpoint at {path}; {hint}")
    try:
        # weights_only: a checkpoint is plain tensors, numbers and lists, and must not run code when loaded.
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a damaged file
        raise UserError(f"{what}: cannot read checkpoint {path}: {str(exc).splitlines()[0] or type(exc).__name__}") from None
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{what}: {path} is not a sheetprop mnist checkpoint (or is from another version)")
    # RNG states must stay CPU byte tensors whatever map_location did.
    state["rng"] = {name: value.cpu() for name, value in state.get("rng", {}).items()}
    return state


def check_compatible(state: dict, path: Path, **settings) -> None:
    """Resuming with a different batch size, learning rate or dataset would silently change the run."""
    saved = state["settings"]
    changed = [f"{key} {saved[key]} -> {value}" for key, value in settings.items() if saved.get(key) != value]
    if changed:
        raise UserError(f"--resume: {path} was trained with other settings ({'; '.join(changed)}); keep them or start afresh")
