"""Wall time and peak memory of `sheetprop build`, against a bare xlsxwriter loop.

    python benchmarks/build_bench.py [--steps 100,1000,10000] [--repeat 3]

For each step count it runs, each in a fresh interpreter (so the times include interpreter
start and imports, as a user sees them, and the peak memory is that process's own):
  build  python -m sheetprop build with 6 learning rates
  bare   a plain xlsxwriter loop writing the same number of formula cells with cached values,
         in the same constant_memory mode: the floor any writer of this workbook pays.
  bare+  the same loop on sheetprop's StepsWorksheet, which skips xlsxwriter's scan for newer
         Excel functions as `build` does: build/bare+ is the engine's own overhead.
and prints a markdown table of the ratios, measured in the same run. A second table does the
same for each built-in template (--templates, at --template-steps), each against a bare loop
writing as many columns as that template's sheets have. A third table does the same for the
layered templates (--layered, each at every --layered-steps, with its own learning rates) against
the bare loop on stock xlsxwriter writing as many cells; --layered-only prints that table alone.
The best of --repeat runs is kept, since noise on a shared machine only ever adds time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's sheetprop, for the column counts

LEARNING_RATES = "0.1,0.2,0.5,0.8,1,2"
COLUMNS = 32  # step + the 31 columns of the default 2-2-2 template

BARE_LOOP = """
import sys, xlsxwriter
rows, sheets, columns, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
worksheet_class = None
if sys.argv[5] == "steps-worksheet":
    from sheetprop.fast_worksheet import StepsWorksheet as worksheet_class
book = xlsxwriter.Workbook(path, {"constant_memory": True})
for s in range(sheets):
    sheet = book.add_worksheet(f"lr={s}", worksheet_class=worksheet_class)
    for row in range(3, 3 + rows):
        for col in range(columns):
            sheet.write_formula(row, col, "=A1+B1*C1", None, 0.5)
book.close()
"""


def run_measured(command: list[str], allowed=(0,)) -> tuple[float, float]:
    """Seconds and peak resident memory (MiB) of one child process, which must exit with one of
    the ``allowed`` codes."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in allowed:
        raise SystemExit(f"failed: {' '.join(command)}")
    return seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def best_of(repeat: int, command: list[str], allowed=(0,)) -> tuple[float, float]:
    runs = [run_measured(command, allowed) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--templates", default="era,xor,softmax,deep")
    parser.add_argument("--template-steps", type=int, default=1000)
    parser.add_argument("--layered", default="rnn,conv,attention")
    parser.add_argument("--layered-steps", default="100,1000")
    parser.add_argument("--layered-only", action="store_true")
    args = parser.parse_args()
    sheets = len(LEARNING_RATES.split(","))
    if args.layered_only:
        print_layered_table(bench_layered(args.layered.split(","), args.layered_steps, args.repeat))
        return 0
    rows_out = []
    with tempfile.TemporaryDirectory() as folder:
        for steps in (int(s) for s in args.steps.split(",")):
            repeat = args.repeat if steps < 10_000 else 1
            build = best_of(repeat, [sys.executable, "-m", "sheetprop", "build", "--quiet",
                                     "--lrs", LEARNING_RATES, "--steps", str(steps),
                                     "--out", str(Path(folder, "build.xlsx"))])
            bare, bare_fast = (
                best_of(repeat, [sys.executable, "-c", BARE_LOOP, str(steps), str(sheets),
                                 str(COLUMNS), str(Path(folder, "bare.xlsx")), worksheet])
                for worksheet in ("stock", "steps-worksheet"))
            size = Path(folder, "build.xlsx").stat().st_size / 2**20
            rows_out.append((steps, steps * sheets * COLUMNS, build, bare, bare_fast, size))
    template_rows = bench_templates(args.templates.split(","), args.template_steps, args.repeat, sheets)
    print_steps_table(rows_out)
    print()
    print(f"Templates at {args.template_steps:,} steps, {sheets} learning rates:")
    print()
    print("| template | columns | formula cells | build s | bare+ s | build/bare+ | build peak MiB | file MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, columns, cells, build, bare_fast, size in template_rows:
        print(f"| {name} | {columns} | {cells:,} | {build[0]:.2f} | {bare_fast[0]:.2f} "
              f"| {build[0] / bare_fast[0]:.2f}x | {build[1]:.0f} | {size:.1f} |")
    print()
    print_layered_table(bench_layered(args.layered.split(","), args.layered_steps, args.repeat))
    return 0


def bench_layered(names, steps_list, repeat):
    """Each layered template at each step count, with its own learning rates (one sheet each),
    against the bare loop on stock xlsxwriter writing as many cells."""
    from sheetprop.network.template import load_template

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            columns = template_columns(name)
            sheets = len(load_template(name).learning_rates)
            for steps in (int(s) for s in steps_list.split(",")):
                out = Path(folder, f"{name}.xlsx")
                build = best_of(repeat, [sys.executable, "-m", "sheetprop", "build", "--quiet",
                                         "--template", name, "--steps", str(steps), "--out", str(out)])
                bare = best_of(repeat, [sys.executable, "-c", BARE_LOOP, str(steps), str(sheets),
                                        str(columns), str(Path(folder, "bare.xlsx")), "stock"])
                rows.append((name, steps, sheets, columns, steps * sheets * columns, build, bare,
                             out.stat().st_size / 2**20))
    return rows


def print_layered_table(rows):
    print("Layered templates, each with its own learning rates (one sheet each), against a bare xlsxwriter loop:")
    print()
    print("| template | steps | sheets | columns | cells | build s | bare s | build/bare | build peak MiB "
          "| bare peak MiB | file MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, steps, sheets, columns, cells, build, bare, size in rows:
        print(f"| {name} | {steps:,} | {sheets} | {columns} | {cells:,} | {build[0]:.2f} | {bare[0]:.2f} "
              f"| {build[0] / bare[0]:.2f}x | {build[1]:.0f} | {bare[1]:.0f} | {size:.1f} |")


def template_columns(name: str) -> int:
    """Columns of one lr sheet of a built-in template: step, then one per quantity."""
    from sheetprop.network import Network
    from sheetprop.network.template import load_template
    return 1 + len(Network(load_template(name)).quantities)


def bench_templates(names, steps, repeat, sheets):
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            columns = template_columns(name)
            out = Path(folder, f"{name}.xlsx")
            build = best_of(repeat, [sys.executable, "-m", "sheetprop", "build", "--quiet",
                                     "--template", name, "--lrs", LEARNING_RATES,
                                     "--steps", str(steps), "--out", str(out)])
            bare_fast = best_of(repeat, [sys.executable, "-c", BARE_LOOP, str(steps), str(sheets),
                                         str(columns), str(Path(folder, "bare.xlsx")), "steps-worksheet"])
            rows.append((name, columns, steps * sheets * columns, build, bare_fast,
                         out.stat().st_size / 2**20))
    return rows


def print_steps_table(rows_out):
    print("| steps | formula cells | build s | bare s | bare+ s | build/bare | build/bare+ "
          "| build peak MiB | bare peak MiB | file MiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for steps, cells, build, bare, bare_fast, size in rows_out:
        print(f"| {steps:,} | {cells:,} | {build[0]:.2f} | {bare[0]:.2f} | {bare_fast[0]:.2f} "
              f"| {build[0] / bare[0]:.2f}x | {build[0] / bare_fast[0]:.2f}x "
              f"| {build[1]:.0f} | {bare[1]:.0f} | {size:.1f} |")


if __name__ == "__main__":
    raise SystemExit(main())
