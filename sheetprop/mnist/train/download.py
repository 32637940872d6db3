"""Fetch a dataset's missing files with md5 checks, or explain exactly what to put where."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

from sheetprop.atomic import atomic_output
from sheetprop.errors import UserError
from sheetprop.mnist.train.data import find_file, missing_files
from sheetprop.mnist.train.datasets import MNIST, STEMS, Dataset

TIMEOUT_SECONDS = 10


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_folder(root: Path, dataset: Dataset = MNIST) -> Path:
    """Put new files beside existing ones, else in torchvision's layout so torchvision can share them."""
    found = [find_file(root, stem, dataset) for stem in STEMS]
    if any(path is not None and path.parent == root for path in found):
        return root
    return root / dataset.subdir


def _torchvision_downloader():
    """torchvision's download_url (retries, redirects), or None where it does not import.

    torchvision may be installed but broken (compiled ops that fail to register raise RuntimeError at
    import), so any exception means "use urllib instead".
    """
    try:
        from torchvision.datasets.utils import download_url
    except Exception:  # noqa: BLE001
        return None
    return download_url


def _fetch_with_urllib(url: str, target: Path, md5: str) -> None:
    with atomic_output(target) as tmp:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response, open(tmp, "wb") as handle:
            while chunk := response.read(1 << 20):
                handle.write(chunk)
        if md5_of(tmp) != md5:
            raise OSError(f"md5 mismatch for {url}")


def fetch_file(folder: Path, stem: str, dataset: Dataset = MNIST) -> Path:
    """Download ``stem.gz`` into ``folder`` from the first mirror that works; OSError if none does."""
    name, md5 = f"{stem}.gz", dataset.md5[stem]
    target = folder / name
    errors = []
    torchvision_download = _torchvision_downloader()
    for mirror in dataset.mirrors:
        if torchvision_download is not None:
            try:
                torchvision_download(mirror + name, str(folder), filename=name, md5=md5)
                if target.is_file() and md5_of(target) == md5:
                    return target
            except Exception as exc:  # noqa: BLE001 - torchvision raises RuntimeError, URLError, ...
                errors.append(f"torchvision from {mirror}: {exc}")
        try:
            _fetch_with_urllib(mirror + name, target, md5)
            return target
        except (OSError, urllib.error.URLError, TimeoutError) as exc:
            errors.append(f"{mirror}: {exc}")
    raise OSError("; ".join(errors))


def missing_files_message(root: Path, stems: list[str], reason: str, dataset: Dataset = MNIST) -> str:
    folder = download_folder(root, dataset)
    listing = "; ".join(f"{stem}.gz (md5 {dataset.md5[stem]})" for stem in stems)
    hint = ""
    if dataset.system_folder is not None:
        hint = f" On Debian or Ubuntu, apt-get install dataset-{dataset.name} puts them in {dataset.system_folder}."
    return (
        f"{dataset.title} files missing in {root} ({reason}). Put these files in {folder} "
        f"(or directly in {root}), gzipped or not: {listing}. They are published at {dataset.mirrors[0]}.{hint}"
    )


def ensure_mnist_files(root: Path, download: bool = True, dataset: Dataset = MNIST, stems=STEMS) -> None:
    """Make sure ``stems`` (by default all four files) exist under ``root``, downloading the missing
    ones if allowed."""
    root = Path(root).expanduser()
    absent = missing_files(root, dataset, stems)
    if not absent:
        return
    if not download:
        raise UserError(missing_files_message(root, absent, "downloading is off", dataset))
    folder = download_folder(root, dataset)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create data folder {folder}: {exc.strerror or exc}") from None
    for stem in absent:
        try:
            fetch_file(folder, stem, dataset)
        except OSError as exc:
            raise UserError(missing_files_message(root, missing_files(root, dataset, stems), f"download failed: {exc}",
                                                  dataset)) from None
