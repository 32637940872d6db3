"""Reporting the verdicts: findings, the text and JSON a student gets, the annotated workbook."""
