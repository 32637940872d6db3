"""What a run writes and reads back: the metrics workbook and its run record, the figures, the
README fragment, the model workbook (the trained CNN as live formulas) and its budget, and the
commands ``mnist-sheet`` and ``mnist-compare``. No module here imports torch at module level.
"""
