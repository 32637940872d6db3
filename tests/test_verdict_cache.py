"""The verdict cache `check` keeps for a whole process (verdict._VERDICTS): bounded, and a second
submission judged with it warm gets the same report as the first did cold."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile

from sheetprop.check.judge import table as judge
from sheetprop.check.judge import verdict
from sheetprop.check.judge.workbook import check_workbook


def test_the_cache_keeps_at_most_its_bound(monkeypatch):
    monkeypatch.setattr(verdict, "MAX_CACHED_VERDICTS", 10)
    cache = verdict._VerdictCache()
    for k in range(25):
        cache.put(("key", k), k)
    assert len(cache) <= 10
    assert cache[("key", 24)] == 24  # the newest stays
    assert ("key", 0) not in cache


def _with_slip(source, target):
    """EXP(-x) typed EXP(x) in the first cell of the first lr sheet that has it, its saved value
    what that formula gives (σ(−x) = 1 − σ(x)), as a spreadsheet would have saved it."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        done = False
        for item in original.infolist():
            data = original.read(item.filename)
            if not done and re.fullmatch(r"xl/worksheets/sheet\d+\.xml", item.filename) and b"EXP(-" in data:
                match = re.search(rb"EXP\(-([^<]*)</f><v>([^<]*)</v>", data)
                slipped = b"EXP(" + match[1] + b"</f><v>" + repr(1 - float(match[2])).encode() + b"</v>"
                data, done = data[:match.start()] + slipped + data[match.end():], True
            copy.writestr(item, data)
    assert done


def _summary(report):
    return report.findings, report.scores


def test_a_warm_cache_gives_the_report_a_cold_one_gave(tmp_path, monkeypatch):
    key = tmp_path / "key.xlsx"
    subprocess.run([sys.executable, "-m", "sheetprop", "build", "--quiet", "--exercise", "--lrs", "0.5,1",
                    "--steps", "6", "--out", str(key)], check=True)
    slipped = tmp_path / "student.xlsx"
    _with_slip(key, slipped)
    monkeypatch.setattr(judge, "_VERDICTS", verdict._VerdictCache())
    cold = _summary(check_workbook(slipped))
    assert cold[0], "the slip is a finding"
    assert len(judge._VERDICTS) > 0
    warm_first = _summary(check_workbook(key))  # the right key, judged with the cache warm
    assert warm_first[0] == []
    assert _summary(check_workbook(slipped)) == cold
