"""Waiting for another process in a test: poll a condition, and fail with a message where it never
holds, so that no wait gives up silently and lets the test go on in the wrong state."""

import time


def wait_until(condition, seconds: float, what: str, poll: float = 0.05) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {seconds:g} s for {what}; it never happened")
        time.sleep(poll)
