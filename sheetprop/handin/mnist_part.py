"""Part 2 of the hand-in: the MNIST CNN, from the metrics workbook `sheetprop mnist` writes
(RUN.xlsx): its `run` sheet (key, value: the model, parameters, the data, the best and final
accuracy, the course's target), its `model` sheet (the layer table), its `epochs` sheet (the
training log) and the pictures beside it (RUN_curves.png, RUN_misclassified.png,
RUN_samples.png). An older workbook without `run` still hands in: best and final accuracy come
from `epochs`, the data is said to be unrecorded, and pictures missing beside it come out of the
workbook's own embedded images."""

from __future__ import annotations

import posixpath
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from sheetprop.errors import UserError
from sheetprop.metrics_sheet import METRIC_COLUMNS

RUN_KEYS = ("model", "parameters", "dataset", "train data", "test data", "train images", "test images",
            "epochs", "best test accuracy", "best epoch", "final test accuracy", "course target", "seed",
            "sheetprop version")
# The course's target for session 6's CNN.
TARGET_ACCURACY, TARGET_PARAMETERS, TARGET_EPOCHS = 99.4, 20_000, 20
PICTURES = ("curves", "misclassified", "samples")
# Where an older workbook embeds each picture: the sheet it sits on.
EMBEDDED_ON = {"curves": "epochs", "misclassified": "confusion"}


@dataclass
class MnistRun:
    path: Path
    facts: dict[str, object]                  # the `run` sheet's, or what `epochs` tells
    recorded: bool                            # whether the workbook has a `run` sheet
    layers: list[dict] = field(default_factory=list)
    total_parameters: int | None = None
    epochs: list[dict] = field(default_factory=list)
    pictures: dict[str, Path] = field(default_factory=dict)  # curves/misclassified/samples, in the hand-in folder

    @property
    def best(self) -> dict:
        return max(self.epochs, key=lambda row: row["test_accuracy"])

    def target_met(self) -> tuple[bool, str]:
        """Whether the course's target is met, and why (or why not), in words."""
        best = self.best
        parameters = self.total_parameters
        reasons = []
        if best["test_accuracy"] < TARGET_ACCURACY:
            reasons.append(f"best test accuracy {best['test_accuracy']:.2f} % < {TARGET_ACCURACY} %")
        if parameters is None:
            reasons.append("parameter count not recorded")
        elif parameters >= TARGET_PARAMETERS:
            reasons.append(f"{parameters:,} parameters ≥ {TARGET_PARAMETERS:,}")
        if best["epoch"] > TARGET_EPOCHS:
            reasons.append(f"best at epoch {best['epoch']} > {TARGET_EPOCHS}")
        if reasons:
            return False, "; ".join(reasons)
        return True, (f"{best['test_accuracy']:.2f} % at epoch {best['epoch']} with {parameters:,} parameters")


def _rows(sheet) -> list[list]:
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def read_run(path: Path, folder: Path) -> MnistRun:
    """The run workbook at ``path``; its pictures copied (or extracted) into ``folder``."""
    import openpyxl

    path = Path(path)
    if not path.is_file():
        raise UserError(f"--mnist {path}: no such file")
    try:
        book = openpyxl.load_workbook(path, data_only=True, read_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is no workbook
        raise UserError(f"--mnist {path.name} is not a workbook sheetprop mnist wrote: {exc}") from None
    try:
        if "epochs" not in book.sheetnames:
            raise UserError(f"--mnist {path.name} has no 'epochs' sheet: give the workbook 'sheetprop mnist' writes")
        epochs = _epochs(_rows(book["epochs"]), path)
        layers, total = _model(_rows(book["model"])) if "model" in book.sheetnames else ([], None)
        facts, recorded = {}, "run" in book.sheetnames
        if recorded:
            for row in _rows(book["run"])[1:]:
                if row and row[0] is not None:
                    facts[str(row[0])] = row[1] if len(row) > 1 else None
    finally:
        book.close()
    run = MnistRun(path, facts, recorded, layers, total, epochs)
    if total is None and isinstance(facts.get("parameters"), (int, float)):
        run.total_parameters = int(facts["parameters"])
    best = run.best
    facts.setdefault("best test accuracy", best["test_accuracy"])
    facts.setdefault("best epoch", best["epoch"])
    facts.setdefault("final test accuracy", epochs[-1]["test_accuracy"])
    facts.setdefault("epochs", epochs[-1]["epoch"])
    run.pictures = _pictures(path, Path(folder))
    return run


def _epochs(rows: list[list], path: Path) -> list[dict]:
    if not rows or [str(c) for c in rows[0][:len(METRIC_COLUMNS)]] != list(METRIC_COLUMNS):
        raise UserError(f"--mnist {path.name}: the 'epochs' sheet's header must be {','.join(METRIC_COLUMNS)}")
    out = []
    for row in rows[1:]:
        if not row or not isinstance(row[0], (int, float)):
            break
        out.append({column: float(value) if isinstance(value, (int, float)) else float("nan")
                    for column, value in zip(METRIC_COLUMNS, row)})
        out[-1]["epoch"] = int(out[-1]["epoch"])
    if not out:
        raise UserError(f"--mnist {path.name}: the 'epochs' sheet has no epochs")
    return out


def _model(rows: list[list]) -> tuple[list[dict], int | None]:
    if not rows:
        return [], None
    header = [str(c) for c in rows[0] if c is not None]
    width = header.index("") if "" in header else len(header)
    layers, total = [], None
    for row in rows[1:]:
        if row and row[0] == "total params":
            k = header.index("parameters") if "parameters" in header else 1
            total = int(row[k]) if isinstance(row[k], (int, float)) else None
            break
        if row and row[0] is not None:
            layers.append({header[k]: row[k] for k in range(min(width, len(row)))})
    return layers, total


def _pictures(path: Path, folder: Path) -> dict[str, Path]:
    """Each picture beside the workbook (RUN_curves.png, …), else out of the workbook itself."""
    found = {}
    folder.mkdir(parents=True, exist_ok=True)
    for kind in PICTURES:
        beside = path.with_name(f"{path.stem}_{kind}.png")
        if beside.is_file():
            found[kind] = folder / f"mnist_{kind}.png"
            if beside.resolve() != found[kind].resolve():
                shutil.copyfile(beside, found[kind])
    missing = [kind for kind in EMBEDDED_ON if kind not in found]
    if missing:
        embedded = _embedded_images(path)
        for kind in missing:
            data = embedded.get(EMBEDDED_ON[kind])
            if data is not None:
                found[kind] = folder / f"mnist_{kind}.png"
                found[kind].write_bytes(data)
    return found


def _target(base: str, target: str) -> str:
    return target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(posixpath.dirname(base), target))


def _relations(archive: zipfile.ZipFile, part: str) -> dict[str, str]:
    rels = posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")
    if rels not in archive.namelist():
        return {}
    text = archive.read(rels).decode("utf-8", "replace")
    return {m.group(1): _target(part, m.group(2)) for m in re.finditer(r'Id="([^"]+)"[^>]*?Target="([^"]+)"', text)}


def _embedded_images(path: Path) -> dict[str, bytes]:
    """The first PNG on each sheet, by sheet name: workbook → sheet → drawing → image."""
    out = {}
    try:
        with zipfile.ZipFile(path) as archive:
            workbook = archive.read("xl/workbook.xml").decode("utf-8", "replace")
            sheets = _relations(archive, "xl/workbook.xml")
            for name, rid in re.findall(r'<sheet [^>]*?name="([^"]+)"[^>]*?r:id="([^"]+)"', workbook):
                for drawing in _relations(archive, sheets.get(rid, "")).values():
                    if "drawings/" not in drawing:
                        continue
                    images = [t for t in _relations(archive, drawing).values() if t.lower().endswith(".png")]
                    if images and images[0] in archive.namelist():
                        out[name] = archive.read(images[0])
    except (OSError, KeyError, zipfile.BadZipFile):
        return {}
    return out
