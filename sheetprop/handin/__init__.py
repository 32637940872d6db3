"""The student's hand-in: `sheetprop readme` writes the workbook, its loss curves and sheet
pictures as PNGs, and a README.md that shows them with the derivation as GitHub math."""
