"""Judging what was found against the chain rule: one verdict per formula, and where a slip enters."""
