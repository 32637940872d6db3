"""``sheetprop mnist``: train the small CNN on MNIST and export its metrics as a workbook.

Importing this module must not import torch, so that ``sheetprop mnist --help`` works on a core
install; ``run`` imports the torch-using modules when the command actually runs.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from sheetprop.atomic import check_output_path
from sheetprop.mnist.options import DATASET_NAMES, DEFAULT_DATA, torch_runtime

DEFAULT_OUT = Path("output") / "mnist.xlsx"
MAX_EPOCHS = 200
MAX_BATCH_SIZE = 8192

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

Outputs, next to --out: the workbook (sheets epochs, model, confusion), FILE_metrics.csv,
FILE_curves.png, FILE_misclassified.png, FILE_model.xlsx (the trained CNN as live formulas: change
a digit's pixels and watch every layer answer), and the checkpoint FILE.ckpt.pt written after every epoch
(--resume continues from it). Ctrl-C stops after the last whole epoch and still writes the workbook
(exit code 130)."""


def _int_in_range(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low}..{high}")
        return value

    return parse


def _learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 10:
        raise argparse.ArgumentTypeError(f"{value} is outside (0, 10]")
    return value


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
    parser.add_argument("--epochs", type=_int_in_range(1, MAX_EPOCHS), default=15, metavar="N",
                        help=f"epochs to train, 1-{MAX_EPOCHS} (default: 15)")
    parser.add_argument("--batch-size", type=_int_in_range(2, MAX_BATCH_SIZE), default=128, metavar="N",
                        help="training batch size (default: 128)")
    parser.add_argument("--lr", type=_learning_rate, default=0.05,
                        help="peak learning rate of the one-cycle schedule, SGD with momentum 0.9 (default: 0.05)")
    parser.add_argument("--seed", type=int, default=1, help="random seed; seeded CPU runs repeat exactly (default: 1)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
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
    parser.add_argument("--max-params", type=_int_in_range(1, 10**9), default=None, metavar="N",
                        help="refuse (exit 2, before reading any data) a model with more than N trainable parameters")
    parser.add_argument("--split-test", type=_int_in_range(1, 10**6), default=None, metavar="N",
                        help="read only the test files: train on their first N images, test on the rest "
                        "(e.g. 8000 for MNIST's 10k real test digits split 8k/2k); no training files needed")
    parser.set_defaults(run=run)
    return parser


def format_epoch(row: dict, epochs: int) -> str:
    return (
        f"epoch {row['epoch']:>3}/{epochs}  train loss {row['train_loss']:.4f} acc {row['train_accuracy']:6.2f}%  "
        f"test loss {row['test_loss']:.4f} acc {row['test_accuracy']:6.2f}%  lr {row['lr']:.5f}  {row['seconds']:.1f}s"
    )


def run(args: argparse.Namespace) -> int:
    from sheetprop.mnist.architecture import check_budget, load_architecture, summary_text

    architecture = load_architecture(args.model)
    check_budget(architecture, args.max_params)
    if args.summary:
        from sheetprop.mnist.workbook_budget import estimate_architecture

        guess = estimate_architecture(architecture)
        verdict = f"over its budget: {', '.join(guess.broken())}" if guess.broken() else "within its budgets"
        print(f"{summary_text(architecture)}\nmodel workbook: {guess.describe()} ({verdict})")
        return 0
    out = check_output_path(args.out)
    runtime = torch_runtime()
    # Every file the run will write, checked now rather than after the training.
    from sheetprop.mnist.checkpoint import checkpoint_path_for
    from sheetprop.mnist.export import OutputPaths

    beside = OutputPaths.beside(out)
    for path in (beside.metrics_csv, beside.curves_png, beside.misclassified_png,
                 out.with_name(f"{out.stem}_model.xlsx"), checkpoint_path_for(out)):
        check_output_path(path)
    from sheetprop.mnist.batches import DeviceSplit
    from sheetprop.mnist.checkpoint import checkpoint_path_for
    from sheetprop.mnist.data import load_mnist, split_test_set
    from sheetprop.mnist.datasets import STEMS, TEST_STEMS
    from sheetprop.mnist.datasets import default_data_folder, get_dataset
    from sheetprop.mnist.download import ensure_mnist_files
    from sheetprop.mnist.export import write_outputs
    from sheetprop.mnist.architecture import layer_rows
    from sheetprop.mnist.train import TrainSettings, fit

    device = runtime.resolve_device(args.device)
    runtime.configure_cpu_threads()
    dataset = get_dataset(args.dataset)
    folder = args.data if args.data is not None else default_data_folder(dataset, DEFAULT_DATA)
    ensure_mnist_files(folder, download=not args.no_download, dataset=dataset,
                       stems=TEST_STEMS if args.split_test else STEMS)
    data = split_test_set(folder, dataset, args.split_test) if args.split_test else load_mnist(folder, dataset)
    train = DeviceSplit.from_numpy(data.train_images, data.train_labels, device, dataset.mean, dataset.std)
    test = DeviceSplit.from_numpy(data.test_images, data.test_labels, device, dataset.mean, dataset.std)
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                             dataset=dataset.name, model=architecture)
    say = (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
    say(f"training model {architecture.name} on {device} with {len(train)} training and {len(test)} test images "
        f"of {dataset.title} from {folder}" + (f" (its test files split {args.split_test}/{len(test)})"
                                                 if args.split_test else ""))

    result = fit(train, test, settings, checkpoint=checkpoint_path_for(out), resume=args.resume,
                 progress=not args.quiet and sys.stderr.isatty(),
                 on_epoch=lambda row: say(format_epoch(row, settings.epochs)))
    if not result.metrics:
        print("sheetprop mnist: interrupted before the first epoch finished; nothing written", file=sys.stderr)
        return 130

    from sheetprop.mnist.model_workbook import write_for_model
    from sheetprop.mnist.workbook_budget import WorkbookOverBudget

    # The outputs are written whole: a further Ctrl-C now (a second one, or one just after the
    # last epoch) waits for them instead of losing the run's workbook.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        paths = write_outputs(out, result.metrics, layer_rows(architecture), architecture,
                              data.test_images, data.test_labels, result.predictions.cpu().numpy(),
                              class_names=dataset.class_names, title=dataset.title)
        try:
            model_workbook, _ = write_for_model(out.with_name(f"{out.stem}_model.xlsx"), result.model, dataset,
                                                data.test_images, data.test_labels, result.predictions.cpu().numpy())
            model_workbook = f"{model_workbook} (the trained CNN as live formulas)"
        except WorkbookOverBudget as refused:
            print(f"sheetprop mnist: {refused}", file=sys.stderr)
            model_workbook = "no model workbook (over its budget)"
    finally:
        signal.signal(signal.SIGINT, previous)
    final = result.metrics[-1]
    print(f"test accuracy {final['test_accuracy']:.2f}% after {final['epoch']} epochs; "
          f"wrote {paths.workbook}, {paths.metrics_csv}, {paths.curves_png}, {paths.misclassified_png}, {paths.readme}, "
          f"{model_workbook}")
    if result.interrupted:
        print(f"sheetprop mnist: interrupted after epoch {final['epoch']}; continue with --resume", file=sys.stderr)
        return 130
    return 0
