"""sheetprop's version, in one home: the package's front, the command line, pyproject.toml and the
graders' records read it from here."""

__version__ = "0.1.0"
