"""``sheetprop mnist-sheet``: put a trained checkpoint's CNN into a workbook of live formulas.

Importing this module must not import torch (``--help`` works on a core install).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sheetprop.atomic import check_output_path
from sheetprop.errors import UserError
from sheetprop.mnist.options import DATASET_NAMES, DEFAULT_DATA, refuse_inputs_as_outputs, torch_runtime

DEFAULT_OUT = Path("output") / "mnist_model.xlsx"
DESCRIPTION = """\
Write the trained CNN of a checkpoint (the FILE.ckpt.pt that 'sheetprop mnist' saves) as a workbook
of live formulas: a predict sheet with the digit's index and its 28x28 pixel grid, P(0)...P(9) and
the prediction; one sheet per layer with every feature map, the kernels and the BatchNorm
scale/shift as cells; the head and softmax; the test images offered (the first 100 and up to 20
more that the model gets wrong). Type another index, or draw over the pixels, and every layer
recomputes. The network is the one the checkpoint records (any --model). The test images come
from the dataset folder, as for 'sheetprop mnist'; only the two test files are needed."""


def add_parser(commands) -> None:
    parser = commands.add_parser("mnist-sheet", help="write a trained CNN as a workbook of live formulas",
                                 description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, metavar="CHECKPOINT", help="FILE.ckpt.pt written by 'sheetprop mnist'")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="FILE.xlsx",
                        help=f"the workbook to write (default: {DEFAULT_OUT})")
    parser.add_argument("--dataset", choices=DATASET_NAMES, default=None,
                        help="the dataset the checkpoint was trained on (default: as recorded in it)")
    parser.add_argument("--data", type=Path, default=None, metavar="DIR",
                        help="folder with the dataset's files (default as for 'sheetprop mnist')")
    parser.add_argument("--digit", type=int, default=None, metavar="INDEX",
                        help="the test image shown first (default: the first offered)")
    parser.add_argument("--no-download", action="store_true", help="never download missing dataset files")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = check_output_path(args.out)
    from sheetprop.mnist.train.data import find_file
    from sheetprop.mnist.train.datasets import DATASETS, TEST_STEMS as STEMS, default_data_folder as folder_of

    data_files = [find_file(args.data if args.data is not None else folder_of(dataset, DEFAULT_DATA), stem, dataset)
                  for dataset in DATASETS.values() for stem in STEMS]
    refuse_inputs_as_outputs([out], [args.checkpoint, *data_files], "mnist-sheet")
    runtime = torch_runtime()
    import torch

    from sheetprop.mnist.train.batches import DeviceSplit
    from sheetprop.mnist.train.checkpoint import architecture_of, load_checkpoint
    from sheetprop.mnist.train.data import load_test_set
    from sheetprop.mnist.train.datasets import TEST_STEMS, default_data_folder, get_dataset
    from sheetprop.mnist.train.download import ensure_mnist_files
    from sheetprop.mnist.train.model import MnistNet
    from sheetprop.mnist.workbook.model_workbook import write_for_model
    from sheetprop.mnist.train.loop import evaluate

    runtime.configure_cpu_threads()
    cpu = torch.device("cpu")
    state = load_checkpoint(args.checkpoint, cpu, what="mnist-sheet")
    model = MnistNet(architecture_of(state, args.checkpoint))  # the network the checkpoint recorded
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError) as exc:
        raise UserError(f"{args.checkpoint} does not hold this CNN's weights: {str(exc).splitlines()[0]}") from None
    dataset = get_dataset(args.dataset or state.get("settings", {}).get("dataset", "mnist"))
    folder = args.data if args.data is not None else default_data_folder(dataset, DEFAULT_DATA)
    ensure_mnist_files(folder, download=not args.no_download, dataset=dataset, stems=TEST_STEMS)
    test_images, test_labels = load_test_set(folder, dataset)  # the test digits are all a workbook shows
    test = DeviceSplit.from_numpy(test_images, test_labels, cpu, dataset.mean, dataset.std)
    predictions = evaluate(model, test)["predictions"].numpy()
    path, sizes = write_for_model(out, model, dataset, test_images, test_labels, predictions, args.digit)
    print(f"wrote {path}: {sizes['sheets']} sheets, {sizes['cells']:,} formula cells; "
          f"digit {sizes['digit']} shown, {sizes['offered']} test images offered")
    return 0
