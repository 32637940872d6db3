"""How sheets print: pages a person can read, not the whole table shrunk to one page's width."""

from __future__ import annotations

from typing import Sequence

# A printed page: this many table columns beside the repeated step column, at full size (a
# landscape page holds 7 columns of width 12.5 beside column A).
PRINT_COLUMNS_PER_PAGE = 7


def runs(groups: Sequence[str]):
    """(first index, last index, group) of each run of equal neighbours."""
    start = 0
    for k in range(1, len(groups) + 1):
        if k == len(groups) or groups[k] != groups[start]:
            yield start, k - 1, groups[start]
            start = k


def print_first_screen(sheet, last_row: int, last_col: int) -> None:
    """Print what a window first shows, on one page."""
    sheet.set_landscape()
    sheet.print_area(0, 0, last_row, last_col)
    sheet.fit_to_pages(1, 1)


def set_print_pages(sheet, groups: Sequence[str], first_col: int, repeat_first: int,
                    repeat_last: int) -> None:
    """Printed pages a person can read: landscape at full size, the band and header rows and the
    step column on every page, and a page break where a group of columns (forward pass, loss,
    backward pass...) starts once a page holds enough, rather than the whole table shrunk to
    one page's width. The hidden constants take no room."""
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.repeat_rows(repeat_first, repeat_last)
    sheet.repeat_columns(0, 0)
    breaks, on_page = [], 0
    for first, last, group in runs(list(groups)):
        width = 0 if group == "constants" else last - first + 1
        # A group wider than a page is cut every page's width; a new group starts a page when
        # it would not fit beside what the page holds.
        if on_page and on_page + width > PRINT_COLUMNS_PER_PAGE:
            breaks.append(first_col + first)
            on_page = 0
        while width > PRINT_COLUMNS_PER_PAGE:
            first += PRINT_COLUMNS_PER_PAGE
            width -= PRINT_COLUMNS_PER_PAGE
            breaks.append(first_col + first)
        on_page += width
    if breaks:
        sheet.set_v_pagebreaks(breaks)
