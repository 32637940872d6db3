"""The one exception type the command line turns into a one-line message and exit code 2."""


class UserError(Exception):
    """Bad input from the user: printed as one line, no traceback."""


# Its public name in the Python API (``sheetprop.SheetpropError``): the same class, so the API and
# the command line fail on the same input with the same message.
SheetpropError = UserError
