"""CPU time of `sheetprop check` in this tree against another (before a change), in the same run.

    git archive main | tar -x -C /tmp/before      # the tree to compare against
    python benchmarks/check_before_after.py --before /tmp/before [--repeat 4] [WORKBOOK ...]

Each workbook (default: an ordinary 2-2-2 workbook built with 100 steps, and the hand-made 2-2-2
workbooks 07 and 14 of ../shared/wild where present) is checked by both trees in turn, in fresh
interpreters, alternating which goes first. It prints the best CPU seconds (user + system) of
each and their ratio: CPU time, not wall time, so other work on a shared machine does not
decide the comparison.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
WILD = HERE.parent / "shared" / "wild"


def cpu_seconds(tree: Path, path: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_WAIT_POLICY="PASSIVE")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    # check exits 1 with findings and 2 on a table it cannot check: results, not failures.
    subprocess.run([sys.executable, "-m", "sheetprop", "check", str(path)], cwd=tree, env=env,
                   capture_output=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="a source tree of sheetprop to compare against")
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("workbooks", nargs="*", type=Path)
    args = parser.parse_args()
    trees = [("before", args.before.resolve()), ("after", HERE)]
    print("| workbook | before CPU s | after CPU s | after/before |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        workbooks = list(args.workbooks)
        if not workbooks:
            built = Path(folder) / "built_100.xlsx"
            subprocess.run([sys.executable, "-m", "sheetprop", "build", "--quiet", "--out", str(built)],
                           cwd=HERE, check=True)
            workbooks = [built, *(found[0] for n in ("07", "14") if (found := sorted(WILD.glob(f"{n}_*.xlsx"))))]
        for path in workbooks:
            best = {name: float("inf") for name, _ in trees}
            for k in range(args.repeat):
                for name, tree in (trees if k % 2 == 0 else trees[::-1]):
                    best[name] = min(best[name], cpu_seconds(tree, path))
            print(f"| {path.name} | {best['before']:.2f} | {best['after']:.2f} | "
                  f"{best['after'] / best['before']:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
