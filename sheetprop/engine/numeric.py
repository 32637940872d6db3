"""Compile expressions into one Python function, for evaluating thousands of rows quickly.

The function computes every shared node once, in the same order and with the same float64
rules as ``engine.evaluate`` (which stays the plain reference the tests compare against).
"""

from __future__ import annotations

from sheetprop.engine import graph as engine
from sheetprop.engine.printers import PythonPrinter


# Compiled once per (outputs, inputs): nodes are interned, so the same network read again (every
# submission of a class, every sheet of a workbook) asks for the same function.
_COMPILED: dict[tuple, object] = {}
MAX_COMPILED = 4096  # small code objects, bounded all the same


def compile_function(outputs, inputs):
    """A function of the ``inputs`` variables' values (positional, in order) that returns the
    values of ``outputs`` as a tuple."""
    key = (tuple(outputs), tuple(inputs))
    compiled = _COMPILED.get(key)
    if compiled is None:
        if len(_COMPILED) >= MAX_COMPILED:
            _COMPILED.clear()
        compiled = _COMPILED[key] = _compile(outputs, inputs)
    return compiled


def _compile(outputs, inputs):
    printer = PythonPrinter()
    refs = {node: f"x{k}" for k, node in enumerate(inputs)}
    lines = [f"def compiled({', '.join(refs[v] for v in inputs)}):"]
    for node in engine.topological_order(outputs):
        if node in refs:
            continue
        if node.op == "var":
            raise ValueError(f"variable {node.payload!r} is not among the inputs")
        if node.op == "const":
            refs[node] = printer.number(node.payload)[0]
            continue
        name = refs[node] = f"t{len(refs)}"
        lines.append(f"    {name} = {printer.doprint(node, refs)}")
        # Overflow to ±inf becomes NaN at once, as engine.evaluate does (inf - inf is NaN).
        lines.append(f"    {name} = {name} if {name} - {name} == 0.0 else nan")
    lines.append(f"    return ({''.join(refs[node] + ', ' for node in outputs)})")
    namespace = dict(printer.helpers)
    exec(compile("\n".join(lines), "<sheetprop.compiled>", "exec"), namespace)
    return namespace["compiled"]
