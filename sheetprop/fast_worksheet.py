"""The worksheet class every large sheet is written with (the lr sheets, the MNIST model
workbook): xlsxwriter's own, less a scan that the formulas written here never need."""

from __future__ import annotations

import re

from xlsxwriter.worksheet import Worksheet

from sheetprop.engine.printers import ExcelPrinter


# Functions the MNIST model workbook's sheets write besides the engine's (mnist/model_workbook.py).
MODEL_SHEET_FUNCTIONS = frozenset({"SUM", "SUMPRODUCT", "AVERAGE", "INDEX", "MATCH", "MAX", "EXP",
                                   "IF", "IFERROR", "ISNA"})  # the digit cell's fallback (Excel 2007+)


class StepsWorksheet(Worksheet):
    """A worksheet that skips xlsxwriter's scan for newer Excel functions in formulas that use
    only functions every Excel knows. The scan is some thirty regular-expression passes over each
    formula, over two thirds of the time a large build takes; any other formula still gets it."""

    _FUNCTION = re.compile(r"[A-Z][A-Z0-9.]*\(")
    # The engine's formulas (whatever ExcelPrinter can emit) and the MNIST model sheets' own.
    _CLASSIC = frozenset(f"{name}(" for name in ExcelPrinter.functions | MODEL_SHEET_FUNCTIONS)

    def _prepare_formula(self, formula, expand_future_functions=False):
        if formula.startswith("=") and self._CLASSIC.issuperset(self._FUNCTION.findall(formula)):
            return formula[1:]
        return super()._prepare_formula(formula, expand_future_functions)
