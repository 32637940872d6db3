"""The one exception type the command line turns into a one-line message and exit code 2."""


class SheetpropError(Exception):
    """Bad input from the user: printed as one line, no traceback. Its public name in the Python
    API (``sheetprop.SheetpropError``), and the name a notebook shows."""


# The name the package's own code raises: the same class, so ``except SheetpropError`` catches
# everything the command line would report, and a traceback names SheetpropError.
UserError = SheetpropError
