"""`sheetprop check`: grade a hand-made (or exercise) backpropagation workbook cell by cell.

The route a workbook takes, one room a stage:
- ``read``: open it safely (``workbook_input``), read its cells in one pass (``xlsx_reader``,
  ``xlsx_cells``) and compute the values a file saved without them lacks (``calculate``);
- ``find``: find the table and its labelled cells (``audit``), what its formulas mean where labels
  do not say (``infer``), or a network from formulas alone (``formula_graph``);
- ``judge``: each cell against the chain rule (``table``; formulas through ``formula``, typed
  numbers through ``precision``, hints from ``hints``, helper columns in ``helpers``, error values
  traced by ``error_values``); against an answer key, ``exercise`` says what a student owes;
- ``report``: the findings and score (``findings``), the text and JSON (``render``), the marked-up
  workbook (``annotate``);
- ``classroom``: a class (``submissions``, zips through ``safe_zip``, ``pool`` and ``grading``, the
  gradebook's files in ``class_report``) and the platforms (``platforms``, ``autograder``).

Formulas are read with the spreadsheet language in ``sheetprop.spreadsheet``."""

from sheetprop.check.judge.workbook import check_workbook
from sheetprop.spreadsheet.agree import ABSOLUTE_FLOOR, DEFAULT_TOLERANCE
from sheetprop.check.report.findings import Finding, Report

__all__ = ["ABSOLUTE_FLOOR", "DEFAULT_TOLERANCE", "Finding", "Report", "check_workbook"]
