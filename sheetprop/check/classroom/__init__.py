"""A class and its platforms: submissions, the grading pool, the gradebook's files, Gradescope and
PrairieLearn."""
