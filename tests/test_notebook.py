"""A real notebook: build, check a workbook and a small class, and show each result. Each shows
as HTML (η's first and last loss with the picture; the score and findings; a row per
submission), and its text form is short."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_notebook_builds_checks_a_class_and_shows_the_results(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    cells = [
        f"import os, sys\nsys.path.insert(0, {str(ROOT)!r})\nos.chdir({str(tmp_path)!r})\nimport sheetprop",
        "built = sheetprop.build(lrs=[0.1, 0.5, 2], steps=50, out='bp.xlsx')\nbuilt",
        "report = sheetprop.check(built.path)\nreport",
        "import shutil\nkit = sheetprop.build(lrs=[0.5], steps=4, exercise=True, out='key.xlsx')\n"
        "os.makedirs('class/alice'); os.makedirs('class/bob')\n"
        "shutil.copyfile(kit.path, 'class/alice/BackPropagation.xlsx')\n"
        "shutil.copyfile(kit.exercise_path, 'class/bob/BackPropagation.xlsx')\n"
        "graded = sheetprop.check('class', key=kit.path)\ngraded",
        "try:\n    sheetprop.build(lrs=[-1])\nexcept sheetprop.SheetpropError as error:\n    print(type(error).__name__, error)",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()

    def output(k, kind):
        data = [o.get("data", {}) for o in notebook.cells[k].outputs if o.output_type == "execute_result"]
        return data[0].get(kind, "") if data else ""

    build_html = output(1, "text/html")
    assert "<table>" in build_html and "<td>0.5</td>" in build_html and "data:image/png;base64," in build_html
    assert len(output(1, "text/plain")) < 200
    check_html = output(2, "text/html")
    assert "100.0 %" in check_html and "findings" in check_html
    assert output(2, "text/plain").startswith("CheckReport('bp.xlsx'")
    class_html = output(3, "text/html")
    assert "<td>alice</td>" in class_html and "<td>bob</td>" in class_html and "<td>100.0</td>" in class_html
    printed = "".join(o.get("text", "") for o in notebook.cells[4].outputs)
    assert printed.startswith("SheetpropError learning rate '-1' must be greater than 0")
