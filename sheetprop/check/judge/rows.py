"""What judging a table keeps of its rows as it goes (``table``): every cell given a verdict, for
the scores (``JudgedCells``), and a row's numbers worked out from its givens, made only when a
cell of the row, or of the row below, is judged by its value (``RowValues``)."""

from __future__ import annotations

from collections import Counter


class JudgedCells:
    """(label, cell reference) of every cell given a verdict, in order, as a list of pairs would
    hold them, kept as two lists: an 18,000-row table has half a million, and a pair each costs
    64 bytes. A table's Cell is kept as it is and its reference made when read: the table holds
    the cell anyway, and half a million reference strings would be 28 MiB."""

    def __init__(self):
        self.labels: list[str] = []
        self.cells: list = []  # a Cell, or a reference ("AC5") for a cell outside the table's

    def append(self, judged: tuple) -> None:
        self.labels.append(judged[0])
        self.cells.append(judged[1])

    def last_is(self, label: str, cell) -> bool:
        return bool(self.cells) and self.labels[-1] == label and self.cells[-1] is cell

    def pop(self) -> tuple[str, str]:
        return self.labels.pop(), _reference(self.cells.pop())

    def __getitem__(self, k: int) -> tuple[str, str]:
        return self.labels[k], _reference(self.cells[k])

    def __len__(self) -> int:
        return len(self.cells)

    def __iter__(self):
        return ((label, _reference(cell)) for label, cell in zip(self.labels, self.cells))

    def tally(self, wrong: set[str]) -> dict[str, tuple[int, int]]:
        """Per label, in the order first judged: (cells judged, those whose reference is not in
        ``wrong``). A table without a wrong cell makes no reference at all."""
        counts = Counter(self.labels)
        if not wrong:
            return {label: (count, count) for label, count in counts.items()}
        missed = Counter(label for label, cell in zip(self.labels, self.cells) if _reference(cell) in wrong)
        return {label: (count, count - missed[label]) for label, count in counts.items()}


def _reference(cell) -> str:
    return cell if type(cell) is str else cell.ref


class RowValues:
    """A row's numbers worked out once its givens are: the chain rule's value of each computed
    quantity (``expected``) and every quantity's value for the next row's updates (``above``),
    each made when first asked. A row whose every cell is its column's right formula again (the
    copied-down rows of a table) asks for neither."""

    __slots__ = ("_check", "_values", "_expected", "_above")

    def __init__(self, check, values: dict):
        self._check, self._values, self._expected, self._above = check, values, None, None

    @property
    def expected(self) -> dict:
        if self._expected is None:
            check, values = self._check, self._values
            self._expected = dict(zip(check.computed_labels, check.evaluate_local(
                *(values[v.payload] for v in check.inputs))))
        return self._expected

    @property
    def above(self) -> dict:
        if self._above is None:
            values, expected = self._values, self.expected
            self._above = {label: values.get(label, expected.get(label)) for label in self._check.labels}
        return self._above
