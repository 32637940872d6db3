"""A process pool for grading a class, started once, that one bad submission cannot stop.

Each worker grades one task at a time under a time limit: an alarm inside the worker ends a slow
task cleanly (its LibreOffice, if any, is ended with it), and should the worker not answer even
then (stuck in C code), the parent kills it once the grace period is past. A worker that dies (a
crash, the kernel's out-of-memory killer) or is killed costs its one task, which becomes a
failure, and is replaced; every other task is graded as usual.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Callable, Iterator

GRACE_S = 30  # past the time limit, how long a worker may take to stop itself before it is killed


class TimeLimitExceeded(BaseException):
    """Raised inside a worker by its alarm; a BaseException, so no `except Exception` swallows it."""


def _on_alarm(signum, frame):
    raise TimeLimitExceeded()


def _worker(connection, work: Callable, setup: Callable | None, setup_args: tuple, inherited: list = ()) -> None:
    for other in inherited:  # forked: the parent's ends of the pipes, which would hide its going (EOF)
        other.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    timed = hasattr(signal, "SIGALRM")  # not on Windows: there the parent's deadline alone stops a task
    if timed:
        signal.signal(signal.SIGALRM, _on_alarm)
    if setup is not None:
        setup(*setup_args)
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):  # the parent is gone (killed, or done): stop without a traceback
            return
        if message is None:
            return
        index, task, limit = message
        if timed:
            signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            result = ("done", work(task))
        except TimeLimitExceeded:
            result = ("timeout", None)
        except Exception as exc:  # noqa: BLE001 - `work` reports its own errors; this is a bug in it
            result = ("crash", f"{type(exc).__name__}: {exc}"[:300])
        finally:
            if timed:
                signal.setitimer(signal.ITIMER_REAL, 0)
        try:
            connection.send((index, result))
        except (BrokenPipeError, ConnectionResetError, OSError):  # the parent stopped listening
            return


@dataclass
class _Worker:
    process: multiprocessing.Process
    connection: object
    task: tuple | None = None      # (index, task)
    deadline: float = 0.0


def _context():
    """Fork where it is safe: on Linux, from a parent that runs no other thread; a forked worker
    starts with what the parent imported (the judge), where a spawned one imports it all again (a
    third of a second a worker). Spawn otherwise: a thread (tqdm's monitor, a notebook's) may hold
    a lock that a forked child would wait on forever."""
    if sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def run(tasks: list, work: Callable, failed: Callable[[object, str], object], jobs: int, time_limit: float,
        setup: Callable | None = None, setup_args: tuple = ()) -> Iterator[tuple[int, object]]:
    """(index, result) for every task as it finishes: ``work(task)`` in a worker, or
    ``failed(task, reason)`` where the worker ran out of time or died. The workers start now,
    before the caller iterates (and starts a progress bar's thread); they stop when the
    iteration ends, or when the iterator is dropped unread."""

    ends = []  # the parent's end of every worker's pipe: a forked worker closes its copies

    def start() -> _Worker:
        context = _context()
        parent, child = context.Pipe()
        ends.append(parent)
        inherited = list(ends) if context.get_start_method() == "fork" else []
        process = context.Process(target=_worker, args=(child, work, setup, setup_args, inherited), daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    workers = [start() for _ in range(max(1, min(jobs, len(tasks))))]
    results = _results(tasks, workers, start, failed, time_limit)
    weakref.finalize(results, _stop_all, workers)
    return results


def _stop_all(workers: list[_Worker]) -> None:
    for worker in workers:
        _stop(worker)


def _results(tasks: list, workers: list[_Worker], start: Callable[[], _Worker],
             failed: Callable[[object, str], object], time_limit: float) -> Iterator[tuple[int, object]]:
    pending = deque(enumerate(tasks))

    def assign() -> None:
        for worker in workers:
            if worker.task is None and pending:
                worker.task = pending.popleft()
                worker.deadline = time.monotonic() + time_limit + GRACE_S
                worker.connection.send((worker.task[0], worker.task[1], time_limit))

    try:
        while pending or any(w.task for w in workers):
            assign()
            busy = [w for w in workers if w.task]
            timeout = min(60.0, max(0.0, min(w.deadline for w in busy) - time.monotonic()))
            wait([w.connection for w in busy] + [w.process.sentinel for w in busy], timeout)
            finished = []
            for k, worker in enumerate(workers):
                if worker.task is None:
                    continue
                index, task = worker.task
                outcome = _collect(worker)
                if outcome is None and time.monotonic() < worker.deadline:
                    continue  # still working
                if outcome is None:
                    outcome = ("killed", None)
                kind, value = outcome
                if kind == "done":
                    worker.task = None
                    finished.append((index, value))
                    continue
                reason = {"timeout": f"grading took longer than the time limit of {time_limit:g} s",
                          "killed": f"grading took longer than the time limit of {time_limit:g} s and "
                                    "did not stop: the grader was killed",
                          "crash": f"the grader failed: {value}",
                          "died": f"the grader died ({value}): a file too large for memory, or a crash"}[kind]
                if kind in ("killed", "died"):
                    _stop(worker)
                    workers[k] = worker = start()
                worker.task = None
                finished.append((index, failed(task, reason)))
            # The idle workers get their next task before the caller sees these results (and
            # writes their feedback, say), so that no worker waits on the caller.
            assign()
            yield from finished
    finally:
        _stop_all(workers)


def _collect(worker: _Worker):
    """The worker's answer: ("done", result), ("timeout"|"crash", detail), ("died", how), or None
    while it is still at work."""
    try:
        if worker.connection.poll():
            _, result = worker.connection.recv()
            return result
    except (EOFError, OSError):
        pass
    else:
        if worker.process.is_alive():
            return None
    worker.process.join(1)
    code = worker.process.exitcode
    how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
    return "died", how


def _stop(worker: _Worker) -> None:
    if worker.process.is_alive():
        try:
            worker.connection.send(None)
        except (OSError, ValueError):
            pass
        worker.process.join(0.5)
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join(5)
    worker.connection.close()
