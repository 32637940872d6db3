"""Placeholder: the `check` command is being built (issue 4)."""


def add_parser(commands):
    parser = commands.add_parser("check", help="audit a hand-made backprop workbook")
    parser.set_defaults(run=lambda args: 1)
