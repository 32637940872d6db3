"""``sheetprop mnist``: train the small CNN on MNIST and export its metrics as a workbook.

Importing this module must not import torch, so that ``sheetprop mnist --help`` works on a core
install; ``run`` imports the torch-using modules when the command actually runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sheetprop.mnist.options import (DATASET_NAMES, DEFAULT_OUT, DEVICES, MAX_EPOCHS, RANGES, TrainOptions)

DESCRIPTION = """\
Train a small CNN (by default about 7,600 parameters; --model for another, from a layer list) on
MNIST or Fashion-MNIST and write its metrics to a workbook. --summary prints the model's layers
(output shape, parameters, receptive field, jump) without training.

The data folder holds the dataset's four IDX files (gzipped or not), either in torchvision's layout
(DIR/MNIST/raw/train-images-idx3-ubyte.gz, DIR/FashionMNIST/raw/..., ...) or directly in DIR. For
--dataset fashion-mnist the default folder is /usr/share/datasets/fashion-mnist when Debian's
dataset-fashion-mnist package has put the files there, else ./data. Missing files are downloaded
and md5-checked unless --no-download is given. The whole dataset is kept on the training device;
augmentation (rotation up to 7 degrees, shifts up to ~1.4 pixels) and normalisation run batched there.

Outputs, next to --out: the workbook (sheets epochs, model, confusion, and run: what the run was
measured on, its best and final test accuracy, and whether it met the course target of 99.4% test
accuracy with under 20,000 parameters within 20 epochs on MNIST's full test set), FILE_metrics.csv,
FILE_curves.png, FILE_misclassified.png, FILE_samples.png (training images and their labels),
FILE_README.md (a README fragment), FILE_model.xlsx (the trained CNN as live formulas: change a
digit's pixels and watch every layer answer), and the checkpoint FILE.ckpt.pt written after every
epoch (--resume continues from it). Every output is checked before training starts. Ctrl-C stops after the last whole epoch and still writes the workbook
(exit code 130)."""


def _checked(name: str):
    """argparse's type for an option: the same check TrainOptions applies (options.RANGES)."""
    def parse(text: str):
        try:
            return RANGES[name](text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def add_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "mnist",
        help="train the small MNIST CNN and export its metrics",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", choices=DATASET_NAMES, default="mnist",
                        help="handwritten digits (mnist) or Zalando's clothing images (fashion-mnist); "
                        "same size and format, own normalisation and class names (default: mnist)")
    parser.add_argument("--data", type=Path, default=None, metavar="DIR",
                        help="folder with the dataset's files (default: ./data, relative to the current folder; "
                        "for fashion-mnist the system copy when installed)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="FILE.xlsx",
                        help=f"workbook to write; the other outputs go beside it (default: {DEFAULT_OUT})")
    parser.add_argument("--epochs", type=_checked("epochs"), default=15, metavar="N",
                        help=f"epochs to train, 1-{MAX_EPOCHS} (default: 15)")
    parser.add_argument("--batch-size", type=_checked("batch_size"), default=128, metavar="N",
                        help="training batch size (default: 128)")
    parser.add_argument("--lr", type=_checked("lr"), default=0.05,
                        help="peak learning rate of the one-cycle schedule, SGD with momentum 0.9 (default: 0.05)")
    parser.add_argument("--seed", type=_checked("seed"), default=1, help="random seed; seeded CPU runs repeat exactly (default: 1)")
    parser.add_argument("--device", choices=DEVICES, default="auto",
                        help="where to train; auto picks cuda, then mps, then cpu (default: auto)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the checkpoint beside --out (FILE.ckpt.pt) up to --epochs")
    parser.add_argument("--no-download", action="store_true",
                        help="never download; fail with the list of missing files and their md5 sums instead")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    parser.add_argument("--model", default=None, metavar="NAME|FILE.toml",
                        help="the network: a built-in (default, course-20k, tiny-4k) or a model file with a "
                        "layer list such as layers = [10, 16, \"M\", \"T10\", 14, 16, 16, \"GAP\"] "
                        "(see docs/mnist.md; default: default)")
    parser.add_argument("--summary", action="store_true",
                        help="print the model's per-layer table and total parameters, and exit (no data, no torch)")
    parser.add_argument("--max-params", type=_checked("max_params"), default=None, metavar="N",
                        help="refuse (exit 2, before reading any data) a model with more than N trainable parameters")
    parser.add_argument("--split-test", type=_checked("split_test"), default=None, metavar="N",
                        help="read only the test files: train on their first N images, test on the rest "
                        "(e.g. 8000 for MNIST's 10k real test digits split 8k/2k); no training files needed")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from sheetprop.mnist import pipeline

    names = [field for field in TrainOptions.__dataclass_fields__]
    options = TrainOptions(**{name: getattr(args, name) for name in names}).checked()
    if options.summary:
        print(pipeline.summary(options))
        return 0
    say = (lambda line: None) if options.quiet else (lambda line: print(line, flush=True))
    outcome = pipeline.run(options, say=say, progress=not options.quiet and sys.stderr.isatty())
    if not outcome.metrics:
        print("sheetprop mnist: interrupted before the first epoch finished; nothing written", file=sys.stderr)
        return 130
    for note in outcome.notes:
        print(f"sheetprop mnist: {note}", file=sys.stderr)
    final, paths = outcome.metrics[-1], outcome.paths
    written = [paths.workbook, paths.metrics_csv, paths.curves_png, paths.misclassified_png, paths.samples_png,
               paths.readme]
    model = (f"{paths.model_workbook} (the trained CNN as live formulas)" if paths.model_workbook is not None
             else "no model workbook (over its budget)")
    print(f"test accuracy {final['test_accuracy']:.2f}% after {final['epoch']} epochs (course target: "
          f"{outcome.record['course target']}); wrote {', '.join(map(str, written))}, {model}")
    if outcome.interrupted:
        print(f"sheetprop mnist: interrupted after epoch {final['epoch']}; continue with --resume", file=sys.stderr)
        return 130
    return 0
