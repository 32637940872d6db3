"""Reading a handed-in workbook: its cells, formulas and saved values, and the values a file lacks."""
