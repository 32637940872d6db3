"""A budget of time per checked file, so that a small hostile file (thousands of copies of a
table, hundreds of distinct wrong formulas in a wide network) ends with one line, not hours.

The budget is wall-clock time, enforced by SIGALRM: it interrupts any step, however the work is
spread (reading, LibreOffice, judging), without each loop counting its own work. Memory the same
way: a MemoryError anywhere is one line.
"""

from __future__ import annotations

import contextlib
import signal
import threading

from sheetprop.errors import UserError

MAX_CHECK_SECONDS = 300  # per file; every built workbook check reads takes far less


class _OutOfTime(BaseException):
    """Raised by the alarm; a BaseException, so no ``except Exception`` on the way swallows it."""


@contextlib.contextmanager
def work_budget(name: str, seconds: float = MAX_CHECK_SECONDS):
    """Checking ``name`` within ``seconds`` (from the main thread; elsewhere, no time limit)."""
    timed = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if timed:
        def expired(signum, frame):
            raise _OutOfTime

        previous = signal.signal(signal.SIGALRM, expired)
    try:
        if timed:  # inside the try: an alarm that rings at once is still this budget's one line
            signal.setitimer(signal.ITIMER_REAL, seconds)
        yield
    except _OutOfTime:
        raise UserError(f"{name} is too large to check: it needs more than {seconds:g} s of work "
                        "(check's budget per file)") from None
    except MemoryError:
        raise UserError(f"{name} is too large to check in this machine's memory") from None
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
