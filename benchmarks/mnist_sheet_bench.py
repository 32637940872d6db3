"""The trained CNN as a workbook: size, write time, recalculation time, and the 20-digit proof.

    python benchmarks/mnist_sheet_bench.py [--checkpoint output/mnist.ckpt.pt] [--digits 20] [--model NAME|FILE]

Without --checkpoint it trains the CNN for 3 epochs on the 2,000 real MNIST digits shipped with
the tests (1,600 to train on, the other 400 offered as test images). Then it writes the model
workbook, times LibreOffice (forced recalculation, one run) and Gnumeric (ssconvert --recalc) on it,
and for --digits different test images typed into the digit cell compares the ten probabilities
LibreOffice computes with PyTorch's (float64, eval mode). Prints a markdown table, with the estimate
the writer makes before writing (sheetprop/mnist/workbook/budget.py) beside what was measured.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see sheetprop/mnist/train/runtime.py

import numpy as np  # noqa: E402
import openpyxl  # noqa: E402
import torch  # noqa: E402

from sheetprop.libreoffice import recalculate_all  # noqa: E402
from sheetprop.mnist.train.batches import DeviceSplit  # noqa: E402
from sheetprop.mnist.train.data import read_idx  # noqa: E402
from sheetprop.mnist.train.datasets import MNIST  # noqa: E402
from sheetprop.mnist.train.architecture import load_architecture  # noqa: E402
from sheetprop.mnist.train.checkpoint import architecture_of  # noqa: E402
from sheetprop.mnist.train.model import MnistNet  # noqa: E402
from sheetprop.mnist.workbook.budget import estimate  # noqa: E402
from sheetprop.mnist.train.runtime import configure_cpu_threads  # noqa: E402
from sheetprop.mnist.workbook.model_workbook import write_for_model  # noqa: E402
from sheetprop.mnist.train.loop import TrainSettings, evaluate, fit  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "mnist-sample"


def typed(source: Path, target: Path, digit: int) -> Path:
    """The workbook with another test index typed into the digit cell (predict!B1)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'(<c r="B1"[^>]*><v>)[^<]*(</v>)', rb"\g<1>%d\g<2>" % digit, data)
            new.writestr(item, data)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--digits", type=int, default=20)
    parser.add_argument("--model", default=None, help="the network to train when no --checkpoint (default: default)")
    args = parser.parse_args()
    configure_cpu_threads()
    images = read_idx(SAMPLE / "t10k-images-idx3-ubyte.gz", 3)
    labels = read_idx(SAMPLE / "t10k-labels-idx1-ubyte.gz", 1).astype(np.int64)
    cpu = torch.device("cpu")
    train = DeviceSplit.from_numpy(images[:1600], labels[:1600], cpu)
    test = DeviceSplit.from_numpy(images[1600:], labels[1600:], cpu)
    if args.checkpoint is not None:
        state = torch.load(args.checkpoint, map_location=cpu, weights_only=True)
        state["settings"].setdefault("model", load_architecture(None).record())
        model = MnistNet(architecture_of(state, args.checkpoint))
        model.load_state_dict(state["model"])
    else:
        model = fit(train, test, TrainSettings(epochs=3, batch_size=32, model=load_architecture(args.model))).model
    model.eval()
    predictions = evaluate(model, test)["predictions"].numpy()
    test_images, test_labels = images[1600:], labels[1600:]
    guess = estimate(model.architecture)
    rows = [("model", f"{model.architecture.name} {list(model.architecture.entries)}, padding {model.architecture.padding}"),
            ("estimate before writing", guess.describe())]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        workbook = tmp / "mnist_model.xlsx"
        started = time.perf_counter()
        _, sizes = write_for_model(workbook, model, MNIST, test_images, test_labels, predictions)
        rows += [("write the workbook, s", f"{time.perf_counter() - started:.2f}"),
                 ("file size, MB", f"{workbook.stat().st_size / 1e6:.2f}"),
                 ("formula cells", f"{sizes['cells']:,}"),
                 ("test images offered", f"{sizes['offered']}")]
        started = time.perf_counter()
        recalculate_all([workbook], tmp / "one")
        rows.append(("LibreOffice: open, recalculate every formula, save (one run, incl. start), s",
                     f"{time.perf_counter() - started:.1f}"))
        if shutil.which("ssconvert"):
            started = time.perf_counter()
            subprocess.run(["ssconvert", "--recalc", str(workbook), str(tmp / "gnumeric.xlsx")], check=True,
                           capture_output=True)
            rows.append(("Gnumeric: ssconvert --recalc (incl. start), s", f"{time.perf_counter() - started:.1f}"))

        offered = [row[0] for row in openpyxl.load_workbook(workbook, read_only=True)["digits"].iter_rows(
            min_row=2, max_col=1, values_only=True)]
        chosen = offered[1:1 + args.digits]
        variants = [typed(workbook, tmp / f"digit{d}.xlsx", d) for d in chosen]
        started = time.perf_counter()
        recalculated = recalculate_all(variants, tmp / "many")
        seconds = time.perf_counter() - started
        reference = copy.deepcopy(model).double().eval()
        worst, same = 0.0, 0
        for digit, path in zip(chosen, recalculated):
            predict = openpyxl.load_workbook(path, data_only=True)["predict"]
            shown = np.array([predict.cell(5 + k, 2).value for k in range(10)])
            x = torch.tensor((test_images[digit] / 255.0 - MNIST.mean) / MNIST.std)[None, None]
            with torch.no_grad():
                expected = torch.exp(reference(x))[0].numpy()
            worst = max(worst, float(np.abs(shown - expected).max()))
            same += predict["B3"].value == int(expected.argmax())
        rows += [(f"LibreOffice, {len(chosen)} digits typed into the digit cell: recalculation, s",
                  f"{seconds:.1f} ({seconds / len(chosen):.1f} per digit)"),
                 ("  largest |P(k) − PyTorch float64|", f"{worst:.1e}"),
                 ("  same prediction as PyTorch", f"{same} of {len(chosen)}")]
    print("| measurement | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
