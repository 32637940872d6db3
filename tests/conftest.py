import os
import subprocess
from pathlib import Path

import pytest

from sheetprop.cli import main

# The slow tier: tests that start LibreOffice or Gnumeric, or train torch. A test says so with
# @pytest.mark.slow; these are also marked here, by what they need, so the quick loop
# (`pytest -m "not slow"`) stays the minute-long one however a test is written.
_SLOW_NEEDS = ("libreoffice", "soffice", "gnumeric", "ssconvert")
_SLOW_MODULES = {"test_mnist_cli", "test_mnist_model_workbook", "test_fashion_mnist", "test_mnist_training",
                 "test_libreoffice", "test_new_networks_in_spreadsheets", "test_hostile_faults", "test_wild"}
# Programs a quick test must never start (checked below, so a missed mark is a failure, not a slow loop).
_SLOW_PROGRAMS = {"soffice", "soffice.bin", "libreoffice", "ssconvert", "gnumeric"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        needs = " ".join(str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif")).lower()
        if Path(str(item.fspath)).stem in _SLOW_MODULES or any(word in needs for word in _SLOW_NEEDS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _quick_tests_start_no_spreadsheet_program(request, monkeypatch):
    if request.node.get_closest_marker("slow") is not None:
        yield
        return
    real_init = subprocess.Popen.__init__

    def guarded(self, args, *rest, **kwargs):
        program = args if isinstance(args, (str, bytes, os.PathLike)) else args[0]
        if os.path.basename(os.fsdecode(program)).split()[0] in _SLOW_PROGRAMS:
            raise AssertionError(f"a test not marked slow started {program}: mark it @pytest.mark.slow")
        real_init(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", guarded)
    yield


@pytest.fixture
def build(tmp_path):
    """Run `sheetprop build` into a temp folder; returns the workbook path."""
    def run(*options, name="BackPropagation.xlsx"):
        out = tmp_path / name
        assert main(["build", "--quiet", "--out", str(out), *options]) == 0
        return out
    return run
