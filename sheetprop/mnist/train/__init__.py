"""Training: the layer list (``architecture``, the built-in ``models/``), the datasets and their
files, batches on the device, the torch network, the training loop, its runtime and checkpoint.

Importing this package imports nothing; ``architecture``, ``datasets``, ``data`` and ``download``
need no torch, the others do.
"""
