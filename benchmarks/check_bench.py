"""Wall time and peak memory of `sheetprop check`, against opening the same workbook alone.

    python benchmarks/check_bench.py [--steps 100,1000,3000] [--repeat 3]

For each step count it builds the default workbook (6 learning rates) and then runs, each in a
fresh interpreter (times include interpreter start and imports, as a user sees them):
  check  python -m sheetprop check on it
  open   the floor: openpyxl loading the workbook twice (formulas and saved values), as check must
and prints a markdown table with check/open, measured in the same run: what judging every cell
(reading each column's formula once, evaluating it at four random points, each value against
the chain rule) costs beyond reading the file. A second table does the same for the real
student workbooks in ../shared/wild, where present. Best of --repeat runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_bench import best_of  # noqa: E402  (one way to time a child process, shared)

OPEN_ONLY = """
import sys, openpyxl
openpyxl.load_workbook(sys.argv[1]); openpyxl.load_workbook(sys.argv[1], data_only=True)
"""
WILD = Path(__file__).resolve().parents[1].parent / "shared" / "wild"


def measure(path: Path, repeat: int) -> tuple[float, float, float, float]:
    check = [sys.executable, "-m", "sheetprop", "check", str(path)]
    # check exits 1 with findings and 2 on a table it cannot check: results, not failures.
    seconds, memory = best_of(repeat, check, allowed=(0, 1, 2))
    floor, floor_memory = best_of(repeat, [sys.executable, "-c", OPEN_ONLY, str(path)])
    return seconds, memory, floor, floor_memory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="100,1000,3000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("| workbook | rows | check s | open s | check/open | check MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for steps in map(int, args.steps.split(",")):
            path = Path(folder) / f"built_{steps}.xlsx"
            subprocess.run([sys.executable, "-m", "sheetprop", "build", "--quiet", "--steps", str(steps),
                            "--out", str(path)], check=True)
            seconds, memory, floor, _ = measure(path, args.repeat)
            print(f"| build --steps {steps} | {6 * steps:,} | {seconds:.2f} | {floor:.2f} | "
                  f"{seconds / floor:.2f} | {memory:.0f} |", flush=True)
    for path in sorted(WILD.glob("*.xlsx")) if WILD.is_dir() else []:
        seconds, memory, floor, _ = measure(path, args.repeat)
        print(f"| wild {path.name[:2]} | | {seconds:.2f} | {floor:.2f} | {seconds / floor:.2f} | {memory:.0f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
