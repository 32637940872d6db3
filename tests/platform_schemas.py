"""JSON Schemas of what the course platforms read, written from their published documentation
(not from sheetprop's output), for tests to validate `check --format` results against.

- Gradescope: https://gradescope-autograders.readthedocs.io/en/latest/specs/ ("Output format",
  "Controlling Test Case Visibility", "Test case status", "Output String Formatting").
- PrairieLearn: https://prairielearn.readthedocs.io/en/latest/externalGrading/ ("Grading results").
"""

# Gradescope lists every key of results.json; one it does not list is a typo here (additionalProperties).
_VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
_FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
_GRADESCOPE_TEST = {
    "type": "object",
    "properties": {
        "score": {"type": "number"},
        "max_score": {"type": "number"},
        "status": {"enum": ["passed", "failed"]},
        "name": {"type": "string"},
        "name_format": _FORMAT,
        "number": {"type": "string"},
        "output": {"type": "string"},
        "output_format": _FORMAT,
        "tags": {"type": "array", "items": {"type": "string"}},
        "visibility": _VISIBILITY,
        "extra_data": {"type": "object"},
    },
    "additionalProperties": False,
}
GRADESCOPE_RESULTS = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": _FORMAT,
        "test_output_format": _FORMAT,
        "test_name_format": _FORMAT,
        "visibility": _VISIBILITY,
        "stdout_visibility": _VISIBILITY,
        "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": _GRADESCOPE_TEST},
        "leaderboard": {"type": "array", "items": {
            "type": "object", "required": ["name", "value"],
            "properties": {"name": {"type": "string"}, "value": {"type": ["number", "string"]},
                           "order": {"enum": ["asc", "desc"]}}}},
    },
    "additionalProperties": False,
    # "score: optional, but required if not on each test case"; tests "required if no top-level score".
    "anyOf": [{"required": ["score"]},
              {"required": ["tests"], "properties": {"tests": {"items": {"required": ["score"]}}}}],
}

# PrairieLearn: "you may add any additional data to that object that you want"; the keys the
# <pl-external-grader-results> element renders have the types of the documented example.
_IMAGE = {"anyOf": [{"type": "string"},
                    {"type": "object", "required": ["url"],
                     "properties": {"url": {"type": "string"}, "label": {"type": "string"}}}]}
PRAIRIELEARN_RESULTS = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "gradable": {"type": "boolean"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "format_errors": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "message": {"type": "string"},
        "output": {"type": "string"},
        "images": {"type": "array", "items": _IMAGE},
        "tests": {"type": "array", "items": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "description": {"type": "string"},
                           "points": {"type": "number"}, "max_points": {"type": "number"},
                           "message": {"type": "string"}, "output": {"type": "string"},
                           "images": {"type": "array", "items": _IMAGE}}}},
    },
    # Gradable (the default when the key is absent): score is mandatory. Not gradable: the
    # errors about the file's format say why.
    "if": {"properties": {"gradable": {"const": False}}, "required": ["gradable"]},
    "then": {"required": ["format_errors"]},
    "else": {"required": ["score"]},
}
PRAIRIELEARN_MAX_BYTES = 1_000_000  # "this file should be limited to 1 MB"


def validate(result: dict, schema: dict) -> None:
    import jsonschema

    jsonschema.validate(result, schema, cls=jsonschema.Draft202012Validator)
