"""The run record: what a training run was measured on and what it reached, as the ``run`` sheet of
the metrics workbook holds it (header ``key``, ``value``) and as the README fragment says it. The
hand-in reads these keys; they are this sheet's contract:

    model, parameters, dataset, train data, test data, train images, test images, epochs,
    best test accuracy, best epoch, final test accuracy, course target, seed, sheetprop version

The course target: 99.4 % test accuracy with under 20,000 parameters within 20 epochs, on MNIST's
full test set (the published 10,000 digits); on a split or on Fashion-MNIST it does not apply.
"""

from __future__ import annotations

from dataclasses import dataclass

RUN_SHEET = "run"
KEYS = ("model", "parameters", "dataset", "train data", "test data", "train images", "test images", "epochs",
        "best test accuracy", "best epoch", "final test accuracy", "course target", "seed", "sheetprop version")
TARGET_ACCURACY = 99.4  # percent
TARGET_PARAMETERS = 20_000  # fewer than this
TARGET_EPOCHS = 20  # reached at one of the first 20 epochs
PUBLISHED_TEST_IMAGES = 10_000
PUBLISHED_TRAIN_IMAGES = 60_000


@dataclass(frozen=True)
class DataUsed:
    """The data a run trained and tested on, in words and counts."""
    dataset: str  # "MNIST" or "Fashion-MNIST"
    train: str
    test: str
    train_images: int
    test_images: int
    published_test_set: bool  # the published test set, whole

    @classmethod
    def describe(cls, title: str, train_images: int, test_images: int, split_test: int | None = None,
                 published_test_set: bool = False) -> "DataUsed":
        """``split_test``: the run trained on the first N test images and tested on the rest."""
        if split_test:
            total, noun = train_images + test_images, "digits" if title == "MNIST" else "images"
            return cls(title, f"{title} test {noun} 1–{train_images:,} (--split-test {split_test})",
                       f"{title} test {noun} {train_images + 1:,}–{total:,}", train_images, test_images, False)
        train = (f"{title} training set, {train_images:,} images" if train_images == PUBLISHED_TRAIN_IMAGES
                 else f"{title} training files, {train_images:,} images (not the published {PUBLISHED_TRAIN_IMAGES:,})")
        test = (f"{title} test set, {test_images:,} images" if published_test_set
                else f"{title} test files, {test_images:,} images (not the published {PUBLISHED_TEST_IMAGES:,})")
        return cls(title, train, test, train_images, test_images, published_test_set)


def course_target(data: DataUsed, parameters: int, metrics: list[dict]) -> str:
    """"met", "not met", or "not applicable (why)"."""
    if data.dataset != "MNIST":
        return f"not applicable ({data.dataset}: the target is set on MNIST)"
    if not data.published_test_set:
        return (f"not applicable (tested on {data.test_images:,} images, not MNIST's full test set of "
                f"{PUBLISHED_TEST_IMAGES:,})")

    def reached(accuracy: float) -> bool:  # counted in images: 99.4 % of 10,000 is 9,940 right
        right = round(accuracy * data.test_images / 100)
        return right * 1000 >= round(TARGET_ACCURACY * 10) * data.test_images

    met = parameters < TARGET_PARAMETERS and any(
        reached(row["test_accuracy"]) for row in metrics if row["epoch"] <= TARGET_EPOCHS)
    return "met" if met else "not met"


def run_record(model: str, parameters: int, data: DataUsed, metrics: list[dict], seed: int) -> dict:
    """The run sheet's keys and values, in KEYS order."""
    from sheetprop.version import __version__

    best = max(metrics, key=lambda row: row["test_accuracy"])  # the first of equal bests
    record = {
        "model": str(model), "parameters": int(parameters), "dataset": data.dataset, "train data": data.train,
        "test data": data.test, "train images": data.train_images, "test images": data.test_images,
        "epochs": int(metrics[-1]["epoch"]), "best test accuracy": float(best["test_accuracy"]),
        "best epoch": int(best["epoch"]), "final test accuracy": float(metrics[-1]["test_accuracy"]),
        "course target": course_target(data, parameters, metrics), "seed": int(seed),
        "sheetprop version": __version__,
    }
    assert tuple(record) == KEYS
    return record


def add_run_sheet(workbook, record: dict, header_format=None):
    """The ``run`` sheet: ``key``, ``value`` and one row per key; every text written as a string."""
    sheet = workbook.add_worksheet(RUN_SHEET)
    percent = workbook.add_format({"num_format": "0.00"})
    sheet.write_string(0, 0, "key", header_format)
    sheet.write_string(0, 1, "value", header_format)
    for row, key in enumerate(KEYS, start=1):
        value = record[key]
        sheet.write_string(row, 0, key)
        if isinstance(value, str):
            sheet.write_string(row, 1, value)
        else:
            sheet.write_number(row, 1, value, percent if isinstance(value, float) else None)
    sheet.set_column(0, 0, 20)
    sheet.set_column(1, 1, 60)
    return sheet
