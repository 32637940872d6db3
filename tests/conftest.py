import pytest

from sheetprop.cli import main


@pytest.fixture
def build(tmp_path):
    """Run `sheetprop build` into a temp folder; returns the workbook path."""
    def run(*options, name="BackPropagation.xlsx"):
        out = tmp_path / name
        assert main(["build", "--quiet", "--out", str(out), *options]) == 0
        return out
    return run
