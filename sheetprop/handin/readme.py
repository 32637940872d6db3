"""`sheetprop readme`: everything a hand-in README shows, in one folder — the workbook (built, or
the student's own with --from), the network drawn, pictures of the sheets, one loss PNG per
learning rate and one with every η, the chain rule in steps, and with --mnist Part 2: the CNN's
model, data, log, curves and digits. All numbers come from the workbook handed in."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sheetprop import layout
from sheetprop.atomic import atomic_output, output_folder
from sheetprop.errors import UserError
from sheetprop.handin import loss_figures, markdown
from sheetprop.handin.chain_steps import ChainRule
from sheetprop.handin.network_figure import draw_network
from sheetprop.handin.sheet_pictures import draw_sheet, draw_text
from sheetprop.handin.sheets import read_handin_book
from sheetprop.network import Network
from sheetprop.writer.build import build_workbook, describe_network
from sheetprop.writer.options import BuildOptions

WORKBOOK_NAME = "BackPropagation.xlsx"


@dataclass
class HandinResult:
    folder: Path
    workbook: Path
    readme: Path
    loss_pngs: dict[str, Path]           # by η as the sheets name it
    combined_png: Path
    sheet_pngs: dict[str, Path] = field(default_factory=dict)  # "summary", "lr=0.5 backward", …
    skipped: str = ""                     # why pictures are missing, if they are
    network_png: Path | None = None
    recalculated: str = ""                # --from: "sheetprop"/"LibreOffice" when its values were computed
    mnist: object = None                  # --mnist: the MnistRun read

    def __repr__(self) -> str:
        return (f"HandinResult(readme={str(self.readme)!r}, workbook={self.workbook.name!r}, "
                f"{len(self.loss_pngs)} loss PNGs, {len(self.sheet_pngs)} sheet pictures"
                f"{', with Part 2' if self.mnist is not None else ''})")


def safe_name(text: str) -> str:
    """A sheet name or η as part of a file name: lr=0.1 → lr_0.1."""
    return "".join(ch if ch.isalnum() or ch in ".-+" else "_" for ch in text)


def _folder(folder: Path) -> Path:
    return output_folder(folder, f"--out {folder} is a file; readme writes a folder (e.g. --out output/handin)")


def write_handin(options: BuildOptions, folder: Path, gradcheck: bool = False, add_extra_sheets=None,
                 progress=None, from_workbook: Path | None = None, mnist_run: Path | None = None) -> HandinResult:
    """The hand-in folder. ``from_workbook``: hand in that workbook (recalculated where its values
    are missing or stale) instead of building one from ``options``; ``mnist_run``: the metrics
    workbook `sheetprop mnist` wrote, for Part 2."""
    for given, flag in ((from_workbook, "--from"), (mnist_run, "--mnist")):
        if given is not None and not Path(given).is_file():
            raise UserError(f"{flag} {given}: no such file")
    final = _folder(folder)
    # Written into a staging folder beside it and moved in only once whole: a failure midway leaves
    # the earlier hand-in as it was, and a new one leaves none of the earlier one's pictures behind.
    folder = Path(tempfile.mkdtemp(prefix=f".{final.name}.sheetprop-stage-", dir=final.parent))
    try:
        result = _write_handin(options, folder, gradcheck, add_extra_sheets, progress, from_workbook, mnist_run)
        _publish(folder, final)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _moved(result, folder, final)


# What a hand-in writes: an earlier hand-in's files of these names that the new one does not write
# are removed when it is moved in (nothing else in the folder is touched).
# (A workbook is never removed: the folder may hold the student's own.)
_HANDIN_FILES = ("README.md", "network.png", "loss_all.png", "loss_lr_*.png", "sheet_*.png", "mnist_*.png")


def _publish(stage: Path, final: Path) -> None:
    written = {path.name for path in stage.iterdir()}
    for pattern in _HANDIN_FILES:
        for stale in final.glob(pattern):
            if stale.name not in written and stale.is_file() and not stale.is_symlink():
                stale.unlink()
    for name in sorted(written):
        os.replace(stage / name, final / name)


def _moved(result: HandinResult, stage: Path, final: Path) -> HandinResult:
    """``result`` with every path in the staging folder named where it now is."""
    def move(path):
        if isinstance(path, Path) and path.parent == stage:
            return final / path.name
        if isinstance(path, dict):
            return {key: move(value) for key, value in path.items()}
        return path

    changes = {f.name: move(getattr(result, f.name)) for f in dataclasses.fields(result)}
    changes["folder"] = final
    if result.mnist is not None and dataclasses.is_dataclass(result.mnist):
        changes["mnist"] = dataclasses.replace(result.mnist, pictures=move(result.mnist.pictures))
    return dataclasses.replace(result, **changes)


def _write_handin(options: BuildOptions, folder: Path, gradcheck: bool, add_extra_sheets, progress,
                  from_workbook: Path | None, mnist_run: Path | None) -> HandinResult:
    if from_workbook is None:
        workbook = folder / WORKBOOK_NAME
        build_workbook(options.template, options.learning_rates, options.steps, workbook, add_extra_sheets,
                       progress, gradcheck=gradcheck)
        book = read_handin_book(workbook, calculate=False)
    else:
        source = Path(from_workbook)
        workbook = folder / source.name
        book = read_handin_book(source)  # read before copying: a copy never replaces its source
        shutil.copyfile(source, workbook)
        book = dataclasses.replace(book, path=workbook)
    template = book.record["template"] if book.record else options.template
    network = Network(template)
    title = template.name

    curves = [loss_figures.LossCurve(s.name, s.learning_rate_text, s.learning_rate, s.column("E_total"))
              for s in book.sheets]
    loss_pngs = {}
    for curve in curves:
        path = folder / f"loss_lr_{safe_name(curve.learning_rate_text)}.png"
        with atomic_output(path) as tmp:
            loss_figures.plot_one(curve, tmp, title)
        loss_pngs[curve.learning_rate_text] = path
    combined = folder / "loss_all.png"
    with atomic_output(combined) as tmp:
        loss_figures.plot_all(curves, tmp, f"{title}: E_total per step")
    network_png = folder / "network.png"
    with atomic_output(network_png) as tmp:
        draw_network(network, tmp, f"{title}: {'-'.join(map(str, template.layers))} network")

    sheet_pngs, pictures = {}, []
    if book.summary_lines:
        summary_png = folder / "sheet_summary.png"
        lines = [f"{a}   {markdown.number(b) if isinstance(b, (int, float)) else b}" if b is not None else a
                 for a, b in book.summary_lines[1:]]
        # Up to the derivation's last line: the summary's loss table below it is loss_all.png.
        lines = lines[:1 + max((k for k, line in enumerate(lines) if " = " in line), default=len(lines))]
        draw_text(lines, summary_png, str(book.summary_lines[0][0]))
        sheet_pngs["summary"] = summary_png
    for sheet in book.sheets:
        for caption, png in draw_sheet(sheet, folder, f"sheet_{safe_name(sheet.name)}"):
            pictures.append((sheet.name, caption, png))
            sheet_pngs[f"{sheet.name} {png.stem.rsplit('_', 1)[-1]}"] = png

    first = book.sheets[0]
    first_row = first.first_row()
    chain = ChainRule(network, first_row)
    from_note = ""
    if from_workbook is not None:
        from_note = (f" Handed in as saved; its values were calculated by {book.recalculated} first "
                     f"({book.stale_cells:,} cells had no saved value or an out-of-date one)."
                     if book.recalculated else " Handed in as saved.")
    text = [f"# Hand-in — {title}", ""]
    text += markdown.part1(network, describe_network(network), folder, workbook, from_note, curves,
                           list(loss_pngs.values()), combined, network_png, pictures, sheet_pngs.get("summary"),
                           chain.blocks(), chain, first.name, first_row)
    run = None
    if mnist_run is not None:
        from sheetprop.handin.mnist_part import read_run

        run = read_run(Path(mnist_run), folder)
        text += markdown.part2(run, folder)
    readme = folder / "README.md"
    with atomic_output(readme) as tmp:
        tmp.write_text("\n".join(text) + "\n", encoding="utf-8")
    return HandinResult(folder, workbook, readme, loss_pngs, combined, sheet_pngs, "", network_png,
                        book.recalculated, run)


def sheet_names(options: BuildOptions) -> list[str]:
    return [layout.sheet_name(text) for text in options.rate_texts]
