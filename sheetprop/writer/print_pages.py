"""How sheets print: pages a person can read, not the whole table shrunk to one page's width."""

from __future__ import annotations

from typing import Sequence

# A printed page: landscape A4 at PRINT_SCALE %, which holds ~16 columns of width 12.5 beside the
# repeated step column and ~50 rows: the default workbook (6 sheets of 100 steps) prints in about
# 60 pages, not 190 at full size. This many columns a page, leaving room for the margins; the
# loss chart (760 px, rows 1-15) lies within the first page's columns.
PRINT_SCALE = 60
PRINT_COLUMNS_PER_PAGE = 14


def runs(groups: Sequence[str]):
    """(first index, last index, group) of each run of equal neighbours."""
    start = 0
    for k in range(1, len(groups) + 1):
        if k == len(groups) or groups[k] != groups[start]:
            yield start, k - 1, groups[start]
            start = k


def set_print_pages(sheet, groups: Sequence[str], first_col: int, repeat_first: int,
                    repeat_last: int) -> None:
    """Printed pages a person can read: landscape at PRINT_SCALE %, the band and header rows and the
    step column on every page, and a page break where a group of columns (forward pass, loss,
    backward pass...) starts once a page holds enough, rather than the whole table shrunk to
    one page's width. The hidden constants take no room."""
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.set_print_scale(PRINT_SCALE)
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
