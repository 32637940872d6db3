"""`build --exercise --roster roster.csv`: one student version per roster row, each its own variant.

Beside the answer key KEY.xlsx goes the folder KEY_exercises/ with <id>.xlsx for every student: the
exercise of the template's network, with the starting numbers ``network.variants`` draws from the
id and the id in its ``_sheetprop`` record. `check --key KEY.xlsx --roster roster.csv` draws the
same numbers again to grade each student against their own variant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from sheetprop.atomic import atomic_output, output_folder
from sheetprop.network import Network
from sheetprop.network.template import Template
from sheetprop.network.variants import Student, variant_template
from sheetprop.writer.build import write_exercise


def exercises_folder(key: Path) -> Path:
    """KEY_exercises/ beside the answer key KEY.xlsx."""
    key = Path(key)
    return key.with_name(f"{key.stem}_exercises")


def write_variants(template: Template, learning_rates: Sequence, steps: int, key: Path,
                   students: Sequence[Student], progress=None) -> Path:
    """Each student's exercise, KEY_exercises/<id>.xlsx; the folder."""
    folder = output_folder(exercises_folder(key),
                           f"{exercises_folder(key)} is a file; the students' exercises go into a folder of that name")
    bar = progress(students, len(students), "variants") if progress is not None else students
    for student in bar:
        network = Network(variant_template(template, student.id))
        with atomic_output(folder / f"{student.id}.xlsx") as tmp:
            write_exercise(network, learning_rates, steps, tmp, student=student.id)
    return folder
