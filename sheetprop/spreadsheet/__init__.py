"""The spreadsheet language, shared by the writer and check: cell references, formula tokens,
formulas read back into engine expressions, number formats."""
