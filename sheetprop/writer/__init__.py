"""`sheetprop build`: writes the network's forward and backward pass as a workbook of live formulas.

``build`` joins the pieces (template → Network → columns → sheets), ``workbook`` writes the lr
sheets and the summary, ``exercise`` the student version's instructions. It does no calculus:
every formula comes printed from the engine."""
