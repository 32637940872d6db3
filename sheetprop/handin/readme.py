"""`sheetprop readme`: everything a hand-in README shows, in one folder — the workbook, one loss
PNG per learning rate (named for η as typed), one with every η, a picture of each sheet's first
screen (where LibreOffice and pdftoppm are installed) and README.md linking them all."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sheetprop import layout
from sheetprop.atomic import atomic_output
from sheetprop.errors import UserError
from sheetprop.handin import loss_figures, markdown, screens
from sheetprop.network import Network
from sheetprop.writer.build import build_workbook, describe_network
from sheetprop.writer.options import BuildOptions

WORKBOOK_NAME = "BackPropagation.xlsx"


@dataclass
class HandinResult:
    folder: Path
    workbook: Path
    readme: Path
    loss_pngs: dict[str, Path]           # by η as typed
    combined_png: Path
    sheet_pngs: dict[str, Path] = field(default_factory=dict)  # by sheet name; empty when skipped
    skipped: str = ""                     # why the sheet pictures are missing, if they are


def safe_name(text: str) -> str:
    """A sheet name or η as part of a file name: lr=0.1 → lr_0.1."""
    return "".join(ch if ch.isalnum() or ch in ".-+" else "_" for ch in text)


def write_handin(options: BuildOptions, folder: Path, gradcheck: bool = False, add_extra_sheets=None,
                 progress=None) -> HandinResult:
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {folder} is a file; readme writes a folder (e.g. --out output/handin)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot make the folder {folder}: {exc.strerror or exc}") from None
    workbook = folder / WORKBOOK_NAME
    build_workbook(options.template, options.learning_rates, options.steps, workbook, add_extra_sheets,
                   progress, gradcheck=gradcheck)
    curves = loss_figures.read_loss_curves(workbook, [layout.sheet_name(text) for text in options.rate_texts])
    title = options.template.name
    loss_pngs = {}
    for curve in curves:
        path = folder / f"loss_lr_{safe_name(curve.learning_rate_text)}.png"
        with atomic_output(path) as tmp:
            loss_figures.plot_one(curve, tmp, title)
        loss_pngs[curve.learning_rate_text] = path
    combined = folder / "loss_all.png"
    with atomic_output(combined) as tmp:
        loss_figures.plot_all(curves, tmp, f"{title}: E_total per step")

    sheet_pngs, skipped = {}, ""
    missing = screens.missing_tools()
    if missing:
        skipped = (f"(No pictures of the sheets: {' and '.join(missing)} not installed here; "
                   "install them and run `sheetprop readme` again, or take screenshots.)")
    else:
        sheet_pngs = draw_first_screens(options, folder, gradcheck)

    network = Network(options.template)
    readme = folder / "README.md"
    text = markdown.readme_text(network, describe_network(network), folder, workbook, curves,
                                list(loss_pngs.values()), combined, list(sheet_pngs.items()), skipped)
    with atomic_output(readme) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return HandinResult(folder, workbook, readme, loss_pngs, combined, sheet_pngs, skipped)


def draw_first_screens(options: BuildOptions, folder: Path, gradcheck: bool) -> dict[str, Path]:
    """Each sheet's first screen as a PNG: the same workbook built to print one page per sheet,
    printed by LibreOffice and drawn by pdftoppm."""
    names = [layout.SUMMARY_SHEET, *(layout.sheet_name(text) for text in options.rate_texts)]
    with tempfile.TemporaryDirectory(prefix="sheetprop-screens-") as scratch:
        copy = Path(scratch, "screens.xlsx")
        build_workbook(options.template, options.learning_rates, options.steps, copy,
                       gradcheck=gradcheck, first_screen_only=True)
        pdf = screens.print_to_pdf(copy, Path(scratch, "pdf"))
        pngs = [folder / f"sheet_{safe_name(name)}.png" for name in names]
        screens.pdf_pages_to_png(pdf, pngs)
    return dict(zip(names, pngs))
