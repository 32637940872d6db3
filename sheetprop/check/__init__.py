"""`sheetprop check`: grade a hand-made (or exercise) backpropagation workbook cell by cell.

The route a workbook takes, one module a stage: ``workbook_input`` opens it safely, ``audit``
finds the table and its labelled cells, ``judge`` judges each cell (formulas through ``formulas``
and ``formula_judge``, typed numbers through ``precision``, hints from ``hints``), and ``report``
scores and words the findings (``render`` prints them; ``error_values`` says where an error value
starts). Against an answer key, ``exercise`` says what a student owes. A class: ``submissions``
finds each student's workbook (zips through ``safe_zip``), ``pool`` and ``grading`` grade them,
``class_report`` writes the CSV, JSON Lines and feedback, ``annotate`` marks up a workbook."""

from sheetprop.check.judge import ABSOLUTE_FLOOR, DEFAULT_TOLERANCE, check_workbook
from sheetprop.check.report import Finding, Report

__all__ = ["ABSOLUTE_FLOOR", "DEFAULT_TOLERANCE", "Finding", "Report", "check_workbook"]
