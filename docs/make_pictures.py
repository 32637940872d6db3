"""Render README's pictures of generated workbooks: LibreOffice prints them to PDF, pdftoppm makes PNGs.

    python docs/make_pictures.py        # needs soffice and pdftoppm (apt-get install poppler-utils)

The backprop workbook's pictures need nothing else; the model workbook's (the trained CNN) need torch:
the CNN is trained for 3 epochs on the 2,000 real digits shipped with the tests.

Each picture is what a student sees first: the print area is set to an lr sheet's first screen and
to the top of the summary, so the PDF pages are those screens at readable size.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sheetprop.writer.build import build_workbook, parse_learning_rates
from sheetprop.libreoffice import find_soffice
from sheetprop.network.template import load_template

DOCS = Path(__file__).resolve().parent
FIRST_SCREEN = {"lr=0.5": (0, 0, 40, 12), "summary": (0, 0, 30, 24)}  # rows, columns shown


def first_screens(book, formats) -> None:
    for name, (first_row, first_col, last_row, last_col) in FIRST_SCREEN.items():
        sheet = book.get_worksheet_by_name(name)
        sheet.print_area(first_row, first_col, last_row, last_col)
        sheet.fit_to_pages(1, 1)
        sheet.hide_gridlines(0)
    for sheet in book.worksheets():
        if sheet.name not in FIRST_SCREEN:
            sheet.hide()


def main() -> int:
    soffice, pdftoppm = find_soffice(), shutil.which("pdftoppm")
    if soffice is None or pdftoppm is None:
        print("needs LibreOffice (soffice) and pdftoppm (poppler-utils)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        workbook = tmp / "BackPropagation.xlsx"
        build_workbook(load_template("era"), parse_learning_rates("0.1,0.2,0.5,0.8,1,2"), 100, workbook,
                       add_extra_sheets=first_screens)
        profile = tmp / "profile"
        subprocess.run([soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                        "--convert-to", "pdf", "--outdir", str(tmp), str(workbook)], check=True,
                       capture_output=True, timeout=300)
        for page, name in ((1, "summary"), (2, "lr-sheet")):
            png(pdftoppm, tmp / "BackPropagation.pdf", page, DOCS / name)
        model_workbook = cnn_workbook(tmp)
        subprocess.run([soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                        "--convert-to", "pdf", "--outdir", str(tmp), str(model_workbook)], check=True,
                       capture_output=True, timeout=300)
        for page, name in ((1, "cnn-predict"), (3, "cnn-block1")):
            png(pdftoppm, tmp / "mnist_model.pdf", page, DOCS / name)
    return 0


def png(pdftoppm: str, pdf: Path, page: int, target: Path) -> None:
    subprocess.run([pdftoppm, "-png", "-r", "110", "-f", str(page), "-l", str(page), "-singlefile", str(pdf),
                    str(target)], check=True, timeout=120)
    print(f"wrote {target}.png")


def cnn_workbook(folder: Path) -> Path:
    import numpy as np
    import torch

    from sheetprop.mnist.train.batches import DeviceSplit
    from sheetprop.mnist.train.data import read_idx
    from sheetprop.mnist.train.datasets import MNIST
    from sheetprop.mnist.workbook.model_workbook import write_for_model
    from sheetprop.mnist.train.loop import TrainSettings, evaluate, fit

    sample = DOCS.parent / "tests" / "data" / "mnist-sample"
    images = read_idx(sample / "t10k-images-idx3-ubyte.gz", 3)
    labels = read_idx(sample / "t10k-labels-idx1-ubyte.gz", 1).astype(np.int64)
    cpu = torch.device("cpu")
    train = DeviceSplit.from_numpy(images[:1600], labels[:1600], cpu)
    test = DeviceSplit.from_numpy(images[1600:], labels[1600:], cpu)
    model = fit(train, test, TrainSettings(epochs=3, batch_size=32)).model.eval()
    predictions = evaluate(model, test)["predictions"].numpy()
    path, _ = write_for_model(folder / "mnist_model.xlsx", model, MNIST, images[1600:], labels[1600:], predictions)
    return path


if __name__ == "__main__":
    sys.exit(main())
