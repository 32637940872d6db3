"""Placeholder: the `mnist` command is being built (issue 3)."""


def add_parser(commands):
    parser = commands.add_parser("mnist", help="train the small MNIST CNN and export its metrics")
    parser.set_defaults(run=lambda args: 1)
