"""MNIST training and export. Only this package imports torch, and only inside functions."""
