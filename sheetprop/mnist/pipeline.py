"""One training run, from checked options to every file written: what `sheetprop mnist` and
``sheetprop.train`` both call. Nothing is trained before every output has been probed and the
data found; torch is imported only once the run starts."""

from __future__ import annotations

import dataclasses
import signal
import threading
from dataclasses import dataclass
from typing import Callable

from sheetprop.atomic import check_output_path
from sheetprop.mnist.options import DEFAULT_DATA, OutputPaths, TrainOptions, refuse_inputs_as_outputs, torch_runtime


@dataclass
class RunOutcome:
    metrics: list[dict]          # one row per completed epoch; empty if stopped before the first
    paths: OutputPaths           # every file written (model_workbook None where it was refused)
    record: dict                 # the run sheet's keys and values
    interrupted: bool = False
    notes: tuple[str, ...] = ()  # what was not written, and why


def summary(options: TrainOptions) -> str:
    """``--summary``: the layer table and the model workbook's estimate; no data, no torch."""
    from sheetprop.mnist.train.architecture import check_budget, load_architecture, summary_text
    from sheetprop.mnist.workbook.budget import estimate

    architecture = load_architecture(options.model)
    check_budget(architecture, options.max_params)
    guess = estimate(architecture)
    verdict = f"over its budget: {', '.join(guess.broken())}" if guess.broken() else "within its budgets"
    return f"{summary_text(architecture)}\nmodel workbook: {guess.describe()} ({verdict})"


def _probe(options: TrainOptions, architecture) -> OutputPaths:
    """Every output checked now, rather than after the training: each writable, none an input."""
    from pathlib import Path

    from sheetprop.mnist.train.architecture import BUILT_IN_FOLDER
    from sheetprop.mnist.train.data import find_file
    from sheetprop.mnist.train.datasets import STEMS, default_data_folder, get_dataset

    paths = OutputPaths.beside(check_output_path(options.out))
    for path in paths.all():
        check_output_path(path)
    dataset = get_dataset(options.dataset)
    folder = options.data if options.data is not None else default_data_folder(dataset, DEFAULT_DATA)
    inputs = [find_file(folder, stem, dataset) for stem in STEMS]
    if options.model is not None and Path(options.model).expanduser().parent != BUILT_IN_FOLDER:
        inputs.append(Path(options.model).expanduser())
    # The checkpoint is read back by --resume and written again: the one output that may be an input.
    refuse_inputs_as_outputs(paths.all(), inputs, "mnist")
    return paths


def run(options: TrainOptions, say: Callable[[str], None] | None = None, progress: bool = False) -> RunOutcome:
    """Train as ``options`` say and write every output. ``say`` receives the start line and one line
    per epoch; ``progress`` shows a bar per epoch (tqdm.auto: a widget in a notebook)."""
    from sheetprop.mnist.train.architecture import check_budget, load_architecture, parameter_count

    options = options.checked()
    say = say or (lambda line: None)
    architecture = load_architecture(options.model)
    check_budget(architecture, options.max_params)
    paths = _probe(options, architecture)
    runtime = torch_runtime()
    from sheetprop.mnist.train.batches import DeviceSplit
    from sheetprop.mnist.train.data import load_mnist, split_test_set
    from sheetprop.mnist.train.datasets import STEMS, TEST_STEMS, default_data_folder, get_dataset, recognise
    from sheetprop.mnist.train.download import ensure_mnist_files
    from sheetprop.mnist.train.loop import TrainSettings, fit
    from sheetprop.mnist.workbook.run_record import DataUsed, run_record

    device = runtime.resolve_device(options.device)
    runtime.configure_cpu_threads()
    dataset = get_dataset(options.dataset)
    folder = options.data if options.data is not None else default_data_folder(dataset, DEFAULT_DATA)
    ensure_mnist_files(folder, download=not options.no_download, dataset=dataset,
                       stems=TEST_STEMS if options.split_test else STEMS)
    data = (split_test_set(folder, dataset, options.split_test) if options.split_test
            else load_mnist(folder, dataset))
    train = DeviceSplit.from_numpy(data.train_images, data.train_labels, device, dataset.mean, dataset.std)
    test = DeviceSplit.from_numpy(data.test_images, data.test_labels, device, dataset.mean, dataset.std)
    published = (not options.split_test and recognise(data.test_labels.astype("uint8").tobytes()) is dataset)
    used = DataUsed.describe(dataset.title, len(train), len(test), options.split_test, published)
    settings = TrainSettings(epochs=options.epochs, batch_size=options.batch_size, lr=options.lr, seed=options.seed,
                             dataset=dataset.name, model=architecture)
    say(f"training model {architecture.name} on {device}: {used.train}; tested on {used.test}; from {folder}")

    result = fit(train, test, settings, checkpoint=paths.checkpoint, resume=options.resume, progress=progress,
                 on_epoch=lambda row: say(format_epoch(row, settings.epochs)))
    if not result.metrics:
        return RunOutcome([], dataclasses.replace(paths, model_workbook=None), {}, interrupted=True)
    record = run_record(architecture.name, parameter_count(architecture), used, result.metrics, options.seed)
    predictions = result.predictions.cpu().numpy()

    from sheetprop.mnist.workbook.budget import WorkbookOverBudget
    from sheetprop.mnist.workbook.export import write_outputs
    from sheetprop.mnist.workbook.model_workbook import write_for_model

    # The outputs are written whole: a further Ctrl-C now (a second one, or one just after the
    # last epoch) waits for them instead of losing the run's workbook.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    notes = []
    try:
        write_outputs(paths, result.metrics, architecture, record, data.test_images, data.test_labels, predictions,
                      data.train_images, data.train_labels, class_names=dataset.class_names, title=dataset.title)
        try:
            write_for_model(paths.model_workbook, result.model, dataset, data.test_images, data.test_labels,
                            predictions)
        except WorkbookOverBudget as refused:
            notes.append(str(refused))
            paths = dataclasses.replace(paths, model_workbook=None)
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    return RunOutcome(result.metrics, paths, record, result.interrupted, tuple(notes))


def format_epoch(row: dict, epochs: int) -> str:
    return (
        f"epoch {row['epoch']:>3}/{epochs}  train loss {row['train_loss']:.4f} acc {row['train_accuracy']:6.2f}%  "
        f"test loss {row['test_loss']:.4f} acc {row['test_accuracy']:6.2f}%  lr {row['lr']:.5f}  {row['seconds']:.1f}s"
    )

