"""sheetprop: backpropagation as a live-formula spreadsheet."""

__version__ = "0.1.0"
