"""MNIST training and export (``sheetprop mnist``, ``mnist-sheet``, ``mnist-compare``).

Only this package imports torch, and only where a command actually trains or loads a checkpoint:
``cli`` (the command line), ``options`` (the checked options) and ``pipeline`` (the run that the
command line and ``sheetprop.train`` share) import none at module level, so ``--help`` works on a
core install. ``train/`` trains; ``workbook/`` writes and reads the workbooks and pictures.
"""
