"""MNIST training and export (``sheetprop mnist``).

Only this package imports torch. ``cli`` does not import it at module level (so ``--help`` works on a
core install); it imports the torch-using modules (runtime, batches, model, train, checkpoint) inside
``run``. ``data``, ``download``, ``figures`` and ``export`` need no torch.
"""
