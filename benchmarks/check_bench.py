"""Wall time and peak memory of `sheetprop check`, against opening the same workbook alone.

    python benchmarks/check_bench.py [--steps 100,1000,3000] [--repeat 3]
    python benchmarks/check_bench.py --class [--submissions 120] [--jobs 2] [--key-steps 3000] [--before DIR]

For each step count it builds the default workbook (6 learning rates) and then runs, each in a
fresh interpreter (times include interpreter start and imports, as a user sees them):
  check  python -m sheetprop check on it
  open   the floor: openpyxl loading the workbook twice (formulas and saved values), as check must
and prints a markdown table with check/open, measured in the same run: what judging every cell
(reading each column's formula once, evaluating it at four random points, each value against
the chain rule) costs beyond reading the file. A second table does the same for the real
student workbooks in ../shared/wild, where present. Best of --repeat runs.

--class times a class: ~120 real-size submissions (answer keys of `build --exercise`, most with
one slip, a few handed in untouched, and copies of the wild workbooks where present):
  open   openpyxl opening each file once, in one process (no cell read twice, nothing judged)
  grade  `python -m sheetprop check --jobs N --csv grades.csv FILE...`, the command a teacher
         runs, in a fresh interpreter (its start, imports and pool are counted)
  similarity  the same with --similarity pairs.csv (every pair of submissions ranked by what they share)
and prints grade/open, measured in the same run (best of --repeat each), with the CPU seconds of
all the command's processes (user + system) and the peak memory of any of them; then the time and
peak memory of `check` on the key of --key-steps steps × 6 learning rates (18,000 rows at 3000).
--before DIR also grades the class with another source tree of sheetprop (a version before a
change), in turn with this one in each repeat, so both meet the same load on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
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


OPEN_EACH = """
import sys, time, warnings, openpyxl
warnings.simplefilter("ignore")
start = time.perf_counter()
for path in sys.argv[1:]:
    try:
        openpyxl.load_workbook(path)
    except Exception:
        pass  # a file openpyxl cannot read costs what it cost
print(time.perf_counter() - start)
"""
LEARNING_RATE_SETS = ("0.1,0.2,0.5,0.8,1,2", "0.5,1", "0.1,0.5,1", "0.2,0.8,2", "1,2")


def with_slip(source: Path, target: Path, rng: random.Random) -> None:
    """A copy of ``source`` with one formula changed as a student slips: EXP(-x) typed EXP(x)
    in one cell of one sheet, saved with the value it gives (σ(−x) = 1 − σ(x))."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        sheets = [n for n in original.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)]
        slipped = rng.choice(sheets[1:-1] or sheets)
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == slipped:
                found = list(re.finditer(rb"EXP\(-([^<]*)</f><v>([^<]*)</v>", data))
                if found:
                    match = rng.choice(found)
                    slipped = b"EXP(" + match[1] + b"</f><v>" + repr(1 - float(match[2])).encode() + b"</v>"
                    data = data[:match.start()] + slipped + data[match.end():]
            copy.writestr(item, data)


def build_class(folder: Path, count: int) -> list[Path]:
    rng = random.Random(18)
    keys = []
    for k, rates in enumerate(LEARNING_RATE_SETS):
        key = folder / f"key{k}.xlsx"
        subprocess.run([sys.executable, "-m", "sheetprop", "build", "--quiet", "--exercise", "--lrs", rates,
                        "--steps", "100", "--out", str(key)], check=True)
        keys.append(key)
    wild = sorted(WILD.glob("*.xlsx")) if WILD.is_dir() else []
    files = []
    for n in range(count):
        target = folder / f"student{n:03d}.xlsx"
        if wild and n % 4 == 3:
            shutil.copyfile(wild[(n // 4) % len(wild)], target)
        elif n % 10 == 9:
            shutil.copyfile(keys[n % len(keys)].with_name(keys[n % len(keys)].stem + "_exercise.xlsx"), target)
        else:
            with_slip(keys[n % len(keys)], target, rng)
        files.append(target)
    return files


def run_in(tree: Path | None, command: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak MiB of ``command`` run with the sheetprop
    of ``tree`` (None: this checkout), its workers included: wait4 reports the children it reaped."""
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                             cwd=tree or Path(__file__).resolve().parents[1])
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # 1: a class with findings
        raise SystemExit(f"failed: {' '.join(command[:6])} …")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def run_class(args) -> int:
    with tempfile.TemporaryDirectory() as folder:
        files = build_class(Path(folder), args.submissions)
        names = [str(f) for f in files]
        opened = min(float(subprocess.run([sys.executable, "-c", OPEN_EACH, *names], check=True,
                                          capture_output=True, text=True).stdout)
                     for _ in range(args.repeat))
        # The command a teacher runs, by each tree in turn in every repeat; the best time of each.
        grade = [sys.executable, "-m", "sheetprop", "check", "--jobs", str(args.jobs),
                 "--csv", str(Path(folder, "grades.csv")), *names]
        similar = grade + ["--similarity", str(Path(folder, "pairs.csv"))]
        trees = [("before", args.before.resolve())] if args.before else []
        trees.append(("", None))
        runs: dict[tuple, list] = {}
        for _ in range(args.repeat):
            for command in (grade, similar):
                for name, tree in trees:
                    runs.setdefault((name, command is similar), []).append(run_in(tree, command))
        print(f"| measure ({len(files)} submissions) | s | vs open | CPU s | peak MiB |")
        print("|---|---:|---:|---:|---:|")
        print(f"| openpyxl opens each once, 1 process | {opened:.2f} | 1.00 | | |")
        for ranked in (False, True):
            for name, _ in trees:
                measured = runs[(name, ranked)]
                seconds, cpu, memory = (min(r[0] for r in measured), min(r[1] for r in measured),
                                        max(r[2] for r in measured))
                what = (f"`check --jobs {args.jobs} --csv --similarity` grades all and ranks the pairs" if ranked
                        else f"`check --jobs {args.jobs} --csv` grades all")
                print(f"| {what}{f' ({name})' if name else ''} | {seconds:.2f} | {seconds / opened:.2f} | "
                      f"{cpu:.2f} | {memory:.0f} |", flush=True)
        if args.key_steps:
            key = Path(folder, "big.xlsx")
            subprocess.run([sys.executable, "-m", "sheetprop", "build", "--quiet", "--exercise",
                            "--lrs", LEARNING_RATE_SETS[0], "--steps", str(args.key_steps), "--out", str(key)],
                           check=True)
            seconds, memory = best_of(1, [sys.executable, "-m", "sheetprop", "check", str(key)], allowed=(0, 1, 2))
            rows = 6 * args.key_steps
            print(f"| `check` on the key of {rows:,} rows, 1 process | {seconds:.2f} | | {memory:.0f} |")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="100,1000,3000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--class", dest="class_", action="store_true",
                        help="time grading a class of submissions with check --jobs (see above)")
    parser.add_argument("--submissions", type=int, default=120)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--key-steps", type=int, default=3000, help="0 skips the 18,000-row key")
    parser.add_argument("--before", type=Path, help="with --class: another source tree of sheetprop, graded in turn")
    args = parser.parse_args()
    if args.class_:
        return run_class(args)
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
