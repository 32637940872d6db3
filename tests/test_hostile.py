"""Hostile files and faults: each is refused with one line and exit 2 (or handled), leaves nothing
behind, and stays within bounded time and memory. Every file is built here."""

import gzip
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from waiting import wait_until
import xlsxwriter

from sheetprop.cli import main
from sheetprop.libreoffice import _run_in_own_group

REPO = Path(__file__).resolve().parents[1]


def run(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def one_line_error(code: int, err: str) -> bool:
    return code == 2 and err.count("\n") == 1 and "Traceback" not in err


def run_cli(*argv, memory_mb: int | None = None, timeout: float = 60, env=None, **kwargs):
    """The CLI in a fresh interpreter, optionally under an address-space limit."""
    limit = (f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({memory_mb} << 20, {memory_mb} << 20))\n"
             if memory_mb else "")
    code = limit + "import sys\nfrom sheetprop.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run([sys.executable, "-c", code, *map(str, argv)], stderr=subprocess.PIPE, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, **kwargs)


def zip_with(path: Path, parts: dict) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def minimal_xlsx(path: Path) -> Path:
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet("s").write_row(0, 0, ["i1", "w1", "E_total"])
    book.close()
    return path


def replace_part(source: Path, target: Path, name: str, data: bytes) -> Path:
    with zipfile.ZipFile(source) as old:
        parts = {item.filename: old.read(item.filename) for item in old.infolist()}
    parts[name] = data
    return zip_with(target, parts)


# --- 1. output paths that a rename would replace ---------------------------------------------

def test_output_that_is_a_link_a_fifo_or_a_device_is_refused(tmp_path, capsys):
    target = tmp_path / "real.xlsx"
    target.write_bytes(b"keep me")
    link = tmp_path / "link.xlsx"
    link.symlink_to(target)
    fifo = tmp_path / "pipe.xlsx"
    os.mkfifo(fifo)
    for out, words in ((link, "symbolic link"), (fifo, "not a regular file"), (Path("/dev/null"), "not a regular file")):
        code, err = run(capsys, "build", "--quiet", "--steps", "2", "--out", str(out))
        assert one_line_error(code, err) and words in err, err
        code, err = run(capsys, "mnist", "--out", str(out), "--no-download")
        assert one_line_error(code, err) and words in err, err
    assert link.is_symlink() and target.read_bytes() == b"keep me" and fifo.is_fifo()


def test_long_output_names_work_up_to_the_file_system_limit(tmp_path, capsys):
    long_name = tmp_path / ("n" * 245 + ".xlsx")
    assert main(["build", "--quiet", "--steps", "2", "--out", str(long_name)]) == 0 and long_name.exists()
    code, err = run(capsys, "build", "--quiet", "--out", str(tmp_path / ("n" * 260 + ".xlsx")))
    assert one_line_error(code, err) and "too long" in err


# --- 2. LibreOffice never outlives its call --------------------------------------------------

@pytest.mark.slow
def test_a_timed_out_program_is_ended_with_its_whole_process_group(tmp_path):
    marker = tmp_path / "still-running"
    script = f"(sleep 3; touch {marker}) & sleep 30"
    started = time.monotonic()
    with pytest.raises(Exception, match="did not finish"):
        _run_in_own_group(["bash", "-c", script], timeout=1, doing="a test")
    assert time.monotonic() - started < 10
    time.sleep(3.5)
    assert not marker.exists(), "the background child was killed with its group"


# --- 3./8. malformed metrics CSV -------------------------------------------------------------

@pytest.mark.parametrize("line, words", [
    ("1,0.41,88.5,0.09,97.2,0.05,12.5,999", "line 2 has 8 fields"),
    ("1,0.41,88.5,0.09,97.2,0.05", "line 2 has 6 fields"),
])
def test_metrics_csv_with_extra_or_missing_fields(tmp_path, capsys, line, words):
    csv = tmp_path / "m.csv"
    csv.write_text("epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,seconds\n" + line + "\n")
    out = tmp_path / "o.xlsx"
    code, err = run(capsys, "build", "--quiet", "--out", str(out), "--mnist-metrics", str(csv))
    assert one_line_error(code, err) and words in err, err
    assert not out.exists()


# --- 4. temp files: none left behind, even when stopped --------------------------------------

@pytest.mark.slow
def test_sigterm_during_a_long_build_leaves_no_temp_files(tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out = tmp_path / "out" / "big.xlsx"
    process = subprocess.Popen([sys.executable, "-m", "sheetprop", "build", "--quiet", "--steps", "5000",
                                "--out", str(out)], env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmpdir)},
                               stderr=subprocess.PIPE, text=True)
    wait_until(lambda: list(out.parent.glob(".sheetprop-tmp-*")), 120, "build's temp file")
    time.sleep(1)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 143 and "SIGTERM" in err and "Traceback" not in err
    assert list(out.parent.iterdir()) == [] and list(tmpdir.iterdir()) == []


def test_a_killed_runs_temp_folder_is_swept_by_the_next_run(tmp_path):
    out = tmp_path / "b.xlsx"
    process = subprocess.Popen([sys.executable, "-m", "sheetprop", "build", "--quiet", "--steps", "5000",
                                "--out", str(out)], env={**os.environ, "PYTHONPATH": str(REPO)})
    wait_until(lambda: list(tmp_path.glob(".sheetprop-tmp-*")), 120, "build's temp folder")
    process.kill()
    process.wait()
    assert list(tmp_path.glob(".sheetprop-tmp-*")), "kill -9 cannot clean up"
    assert main(["build", "--quiet", "--steps", "2", "--out", str(out)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["b.xlsx"]


# --- 6./7./8. files check must refuse in one line, in bounded memory ------------------------

def hostile_workbooks(tmp_path: Path) -> dict:
    base = minimal_xlsx(tmp_path / "base.xlsx")
    billion_laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                      + b"".join(b'<!ENTITY lol%d "%s">' % (k, b"&lol%d;" % (k - 1) * 10 if k > 1 else b"&lol;" * 10)
                                 for k in range(1, 10))
                      + b']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol9;</t></si></sst>')
    xxe = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&e;</t></si></sst>')
    huge_comment = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                    b"<!--" + b"x" * (64 << 20) + b"--><sheetData/></worksheet>")
    corrupt = bytearray(base.read_bytes())
    at = corrupt.find(b"xl/worksheets/sheet1.xml") + 60
    corrupt[at:at + 40] = b"\xff" * 40
    files = {
        "zip bomb": zip_with(tmp_path / "bomb.xlsx", {"xl/workbook.xml": b"<x/>", "xl/worksheets/sheet1.xml": b"\0" * (300 << 20)}),
        "64 MB comment": replace_part(base, tmp_path / "comment.xlsx", "xl/worksheets/sheet1.xml", huge_comment),
        "billion laughs": replace_part(base, tmp_path / "laughs.xlsx", "xl/sharedStrings.xml", billion_laughs),
        "XXE": replace_part(base, tmp_path / "xxe.xlsx", "xl/sharedStrings.xml", xxe),
        "malformed sheet XML": replace_part(base, tmp_path / "malformed.xlsx", "xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row"),
        "malformed styles": replace_part(base, tmp_path / "styles.xlsx", "xl/styles.xml", b"<styleSheet><<<"),
        "corrupt member": tmp_path / "corrupt.xlsx",
        "encrypted": tmp_path / "secret.xlsx",
        "zip, not a workbook": zip_with(tmp_path / "archive.xlsx", {"readme.txt": b"hello"}),
        "empty": tmp_path / "empty.xlsx",
    }
    files["corrupt member"].write_bytes(bytes(corrupt))
    files["encrypted"].write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + bytes(4000))
    files["empty"].write_bytes(b"")
    return files


@pytest.mark.slow
def test_hostile_workbooks_are_refused_in_one_line_within_bounded_memory(tmp_path):
    for what, path in hostile_workbooks(tmp_path).items():
        done = run_cli("check", path, memory_mb=1500, timeout=60)
        assert done.returncode == 2, (what, done.stderr[-500:])
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, (what, done.stderr)
        if what == "encrypted":
            assert "password-protected" in done.stderr
        if what == "zip bomb":
            assert "inflates to" in done.stderr


def test_a_fifo_given_to_check_or_as_a_template_does_not_hang(tmp_path):
    fifo = tmp_path / "pipe.xlsx"
    os.mkfifo(fifo)
    done = run_cli("check", fifo, timeout=20)
    assert done.returncode == 2 and "not a regular file" in done.stderr
    toml_fifo = tmp_path / "pipe.toml"
    os.mkfifo(toml_fifo)
    for template in (toml_fifo, "/dev/zero"):
        done = run_cli("build", "--template", template, "--out", tmp_path / "o.xlsx", timeout=20)
        assert done.returncode == 2 and "not a regular file" in done.stderr, done.stderr


def test_a_workbook_without_an_extension_or_misnamed_is_read(tmp_path, build):
    built = build("--steps", "3", "--lrs", "0.5")
    for name in ("BackPropagation", "BackPropagation.csv"):
        copy = tmp_path / name
        copy.write_bytes(built.read_bytes())
        assert main(["check", str(copy)]) == 0, name


@pytest.mark.parametrize("text, words", [
    ("a" + ".a" * 20_000 + " = 1\n", "nests"),
    ("x = " + "[" * 1000 + "]" * 1000 + "\n", "nests"),
    ("# padding\n" * 10_000, "at most 64 KB"),
])
def test_hostile_templates(tmp_path, capsys, text, words):
    template = tmp_path / "t.toml"
    template.write_text(text)
    code, err = run(capsys, "build", "--template", str(template), "--out", str(tmp_path / "o.xlsx"))
    assert one_line_error(code, err) and words in err, err


def test_a_template_with_a_byte_order_mark_is_read(tmp_path):
    source = (REPO / "templates" / "era.toml").read_text(encoding="utf-8")
    template = tmp_path / "bom.toml"
    template.write_bytes(b"\xef\xbb\xbf" + source.encode())
    assert main(["build", "--quiet", "--steps", "2", "--template", str(template), "--out", str(tmp_path / "o.xlsx")]) == 0


# --- 7. consoles and full outputs -------------------------------------------------------------

def test_a_cp1252_console_gets_no_traceback(tmp_path, build):
    built = build("--steps", "2", "--lrs", "0.5")
    done = run_cli("build", "--steps", "2", "--out", tmp_path / "o.xlsx", env={"PYTHONIOENCODING": "cp1252"})
    assert done.returncode == 0 and "Traceback" not in done.stderr
    done = run_cli("check", built, env={"PYTHONIOENCODING": "cp1252"})
    assert done.returncode == 0 and "Traceback" not in done.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_a_full_standard_output_is_one_line_on_stderr(build):
    built = build("--steps", "2", "--lrs", "0.5")
    with open("/dev/full", "w") as full:
        done = run_cli("check", "--json", built, stdout=full)
    assert done.returncode == 2 and "cannot write the output" in done.stderr and "Traceback" not in done.stderr


# --- 5./6./7. MNIST data and checkpoints ------------------------------------------------------

def test_an_idx_header_promising_too_much_is_refused_before_inflating(tmp_path, capsys):
    from sheetprop.errors import UserError
    from sheetprop.mnist.train.data import read_idx

    bomb = tmp_path / "labels.gz"
    with gzip.open(bomb, "wb") as handle:
        handle.write(bytes([0, 0, 8, 1]) + (4_000_000_000).to_bytes(4, "big"))
        handle.write(bytes(1 << 20))
    with pytest.raises(UserError, match="header promises shape"):
        read_idx(bomb, 1)
    overflow = tmp_path / "images"
    overflow.write_bytes(bytes([0, 0, 8, 3]) + b"\xff" * 12)
    with pytest.raises(UserError, match="header promises shape"):
        read_idx(overflow, 3)


@pytest.mark.slow
def test_damaged_or_edited_checkpoints_are_refused(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from mnist_fixtures import write_mnist_folder

    data = write_mnist_folder(tmp_path / "data", range(0, 300), range(300, 400), layout="flat")
    out = tmp_path / "m.xlsx"
    common = ["--data", str(data), "--out", str(out), "--no-download", "--quiet", "--batch-size", "50"]
    assert main(["mnist", *common, "--epochs", "1"]) == 0
    checkpoint = tmp_path / "m.ckpt.pt"
    state = torch.load(checkpoint, weights_only=True)

    edited = dict(state)
    edited["model"] = {k: v.clone() for k, v in state["model"].items()}
    next(iter(edited["model"].values())).view(-1)[0] += 1.0  # one weight flipped on disk
    torch.save(edited, checkpoint)
    code, err = run(capsys, "mnist", *common, "--epochs", "2", "--resume")
    assert one_line_error(code, err) and "checksum" in err

    for key in ("epoch", "model"):
        broken = {k: v for k, v in state.items() if k != key}
        torch.save(broken, checkpoint)
        code, err = run(capsys, "mnist", *common, "--epochs", "2", "--resume")
        assert one_line_error(code, err) and f"lacks '{key}'" in err
    torch.save({**state, "epoch": "1"}, checkpoint)
    code, err = run(capsys, "mnist", *common, "--epochs", "2", "--resume")
    assert one_line_error(code, err) and "'epoch'" in err
    checkpoint.write_bytes(b"")
    code, err = run(capsys, "mnist", *common, "--epochs", "2", "--resume")
    assert one_line_error(code, err) and err.rstrip().split(": ")[-1] not in ("", "101")

    # Same size, other images: the fingerprint tells.
    torch.save(state, checkpoint)
    other = write_mnist_folder(tmp_path / "other", range(300, 600), range(0, 100), layout="flat")
    code, err = run(capsys, "mnist", "--data", str(other), "--out", str(out), "--no-download", "--quiet",
                    "--batch-size", "50", "--epochs", "2", "--resume")
    assert one_line_error(code, err) and "other training data" in err


@pytest.mark.slow
def test_ctrl_c_while_the_outputs_are_written_still_writes_them(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    from mnist_fixtures import write_mnist_folder
    from sheetprop.mnist.workbook import export

    data = write_mnist_folder(tmp_path / "data", range(0, 300), range(300, 400), layout="flat")
    real_write = export.write_outputs

    def impatient_user(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C just after the last epoch
        return real_write(*args, **kwargs)

    monkeypatch.setattr(export, "write_outputs", impatient_user)
    out = tmp_path / "m.xlsx"
    assert main(["mnist", "--data", str(data), "--out", str(out), "--no-download", "--quiet", "--epochs", "1",
                 "--batch-size", "50"]) == 0
    assert out.exists() and out.with_name("m_model.xlsx").exists()


# --- 8. one mistake, one finding -----------------------------------------------------------------

def test_an_overflowing_build_checks_clean(build, capsys):
    built = build("--lrs", "1e300", "--steps", "5")
    assert main(["check", str(built)]) == 0
    assert "0 findings" in capsys.readouterr().out


@pytest.mark.skipif(not __import__("shutil").which("soffice"), reason="LibreOffice (soffice) not installed")
@pytest.mark.parametrize("formula, shown", [("=K18*0+J18", "#VALUE!"), ("=FOO(F18)*D18+G18*E18", "#NAME?")])
def test_a_circular_or_unknown_function_cell_is_one_finding(build, tmp_path, capsys, formula, shown):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.load_workbook(build("--lrs", "0.5", "--steps", "5"))
    book["lr=0.5"]["J18"] = formula  # h1 of the first row; saved without values, so LibreOffice computes them
    edited = tmp_path / "edited.xlsx"
    book.save(edited)
    assert main(["check", "--json", str(edited)]) == 1
    import json

    findings = json.loads(capsys.readouterr().out)["findings"]
    assert [(f["cell"], f["found"]) for f in findings] == [("J18", shown)]


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    import errno

    from xlsxwriter.exceptions import FileCreateError

    def disk_full(self):
        raise FileCreateError(OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr(xlsxwriter.Workbook, "close", disk_full)
    out = tmp_path / "o.xlsx"
    code, err = run(capsys, "build", "--quiet", "--steps", "3", "--out", str(out))
    assert one_line_error(code, err) and "the disk is full" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not __import__("shutil").which("soffice"), reason="LibreOffice (soffice) not installed")
def test_an_ods_workbook_is_converted_and_checked(build, tmp_path):
    built = build("--lrs", "0.5", "--steps", "3")
    subprocess.run(["soffice", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
                    "--convert-to", "ods", "--outdir", str(tmp_path / "ods"), str(built)],
                   check=True, capture_output=True, timeout=120)
    assert main(["check", str(tmp_path / "ods" / "BackPropagation.ods")]) == 0


@pytest.mark.skipif(not __import__("shutil").which("ssconvert"), reason="Gnumeric (ssconvert) not installed")
def test_a_workbook_gnumeric_saved_is_read(build, tmp_path):
    built = build("--lrs", "0.5", "--steps", "3")
    saved = tmp_path / "gnumeric.xlsx"
    subprocess.run(["ssconvert", str(built), str(saved)], check=True, capture_output=True, timeout=120)
    done = run_cli("check", saved)  # Gnumeric writes notes without authors: openpyxl alone raised IndexError
    assert done.returncode == 0 and done.stderr == "" and "0 findings" in done.stdout
