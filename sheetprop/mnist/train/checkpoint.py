"""Save and load the per-epoch training checkpoint (atomically, so Ctrl-C never leaves half a file)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import torch

from sheetprop.atomic import atomic_output
from sheetprop.errors import UserError
from sheetprop.mnist.train.architecture import MAX_PARAMETERS, Architecture, load_architecture

FORMAT_VERSION = 1
# The largest checkpoint of the largest network mnist trains: its weights, BatchNorm's buffers (fewer
# numbers than the weights) and SGD's momentum, 4 bytes each, plus 1 MiB for the metrics, the RNG
# state and torch's own records. A checkpoint is refused above this, before any member is unpacked.
MAX_CHECKPOINT_BYTES = 3 * 4 * MAX_PARAMETERS + 2**20


def checkpoint_path_for(out: Path) -> Path:
    """``output/mnist.xlsx`` -> ``output/mnist.ckpt.pt``."""
    from sheetprop.mnist.options import OutputPaths

    return OutputPaths.beside(out).checkpoint


REQUIRED = {"epoch": int, "settings": dict, "model": dict, "optimizer": dict, "metrics": list, "rng": dict}


def checksum(state: dict) -> str:
    """A digest of the weights and the metrics, so a damaged or edited checkpoint is caught on load."""
    digest = hashlib.sha256()
    for name, tensor in sorted(state["model"].items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    digest.update(repr((state["epoch"], state["metrics"], sorted(state["settings"].items()))).encode())
    return digest.hexdigest()


def data_fingerprint(images: torch.Tensor, labels: torch.Tensor) -> str:
    """Which training data a run saw: resuming on other data of the same size would mix two runs."""
    digest = hashlib.sha256()
    for tensor in (images, labels):
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def save_checkpoint(path: Path, state: dict) -> None:
    with atomic_output(path) as tmp:
        torch.save({"format_version": FORMAT_VERSION, **state, "checksum": checksum(state)}, tmp)


def load_checkpoint(path: Path, device: torch.device, what: str = "--resume") -> dict:
    """The checkpoint's state; ``what`` starts each error message (the option or command reading it)."""
    if not path.is_file():
        hint = "run without --resume first (same --out)" if what == "--resume" else "train one with 'sheetprop mnist'"
        raise UserError(f"{what}: no checkpoint at {path}; {hint}")
    _check_size(path, what)
    try:
        # weights_only: a checkpoint is plain tensors, numbers and lists, and must not run code when loaded.
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a damaged file
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if not detail or detail.isdigit():  # torch's bare EOFError, or an errno alone ("101")
            detail = "the file is empty or cut short" if isinstance(exc, EOFError) else type(exc).__name__
        raise UserError(f"{what}: cannot read checkpoint {path}: {detail}") from None
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{what}: {path} is not a sheetprop mnist checkpoint (or is from another version)")
    for key, kind in REQUIRED.items():
        if not isinstance(state.get(key), kind):
            problem = "lacks" if key not in state else f"has a {type(state[key]).__name__} for"
            raise UserError(f"{what}: {path} is damaged: it {problem} '{key}'")
    try:
        intact = state.get("checksum") == checksum(state)
    except (AttributeError, TypeError, ValueError, RuntimeError):
        intact = False
    if not intact:
        raise UserError(f"{what}: {path} is damaged or was edited (its checksum does not match); "
                        "train afresh without --resume")
    # Checkpoints from before layer lists trained the default network (same module names).
    state["settings"].setdefault("model", load_architecture(None).record())
    # Checked now, before any work: NaN weights would fail only when written (xlsxwriter takes no
    # NaN), forged metrics only after an epoch has trained.
    from sheetprop.metrics_sheet import validate_metrics

    validate_metrics(state["metrics"], source=f"{what}: {path}'s metrics")
    for name, tensor in state["model"].items():
        if torch.is_tensor(tensor) and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise UserError(f"{what}: {path} holds weights that are not finite numbers ({name}): "
                            "the run that saved it diverged; train again with a smaller --lr")
    # RNG states must be CPU byte tensors whatever map_location did (the checksum does not cover them).
    rng = state["rng"]
    if "cpu" not in rng or not all(torch.is_tensor(value) and value.dtype == torch.uint8 for value in rng.values()):
        raise UserError(f"{what}: {path} is damaged: its random-number state is not the byte tensors torch saves")
    state["rng"] = {name: value.cpu() for name, value in rng.items()}
    return state


def _check_size(path: Path, what: str) -> None:
    """A checkpoint is a zip archive (torch.save's format) whose members, unpacked, fit the largest
    network mnist trains: checked from the archive's directory before torch inflates anything."""
    refused = (f"{what}: {path} is larger than any sheetprop mnist checkpoint (at most {MAX_CHECKPOINT_BYTES:,} "
               f"bytes for {MAX_PARAMETERS:,} parameters)")
    if path.stat().st_size > MAX_CHECKPOINT_BYTES:
        raise UserError(refused)
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(item.file_size for item in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return  # not a zip archive: torch.load refuses it below, in its own words
    if unpacked > MAX_CHECKPOINT_BYTES:
        raise UserError(f"{refused}: its members unpack to {unpacked:,} bytes")


def architecture_of(state: dict, path: Path) -> Architecture:
    """The network a checkpoint holds, as its settings record it."""
    record = state["settings"]["model"]
    if not isinstance(record, dict):
        raise UserError(f"{path} is damaged: its model record is a {type(record).__name__}")
    return Architecture.from_record(record, f"{path} (its model)")


def check_compatible(state: dict, path: Path, **settings) -> None:
    """Resuming with a different batch size, learning rate or dataset would silently change the run."""
    saved = state["settings"]
    def change(key, value) -> str:
        if key == "data":
            return "other training data (same size, other images)"
        if key == "model":  # the records are whole layer lists: name them, and the list if the name is the same
            old, new = saved.get(key) or {}, value
            same_name = old.get("name") == new.get("name")
            return (f"model {old.get('name')} -> {new.get('name')}" if not same_name
                    else f"model {new.get('name')}'s layers {old.get('layers')} -> {new.get('layers')}")
        return f"{key} {saved.get(key)} -> {value}"

    changed = [change(key, value) for key, value in settings.items() if saved.get(key) != value]
    if changed:
        raise UserError(f"--resume: {path} was trained with other settings ({'; '.join(changed)}); keep them or start afresh")
