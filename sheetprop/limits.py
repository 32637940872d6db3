"""Limits two commands share, in one home: `build` never writes a sheet that `check` refuses."""

# One part (a sheet's XML) of an .xlsx, inflated: check loads it whole (twice: formulas and
# values), so this bounds its memory; build estimates each sheet before writing and refuses past it.
MAX_SHEET_PART_BYTES = 20 * 2**20
# All parts of a workbook, inflated: check refuses more, and build's sheets together stay under it.
MAX_WORKBOOK_BYTES = 100 * 2**20
