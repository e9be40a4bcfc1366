"""Run a function in two (or more) threads at once, each on its own database
connection, started together by a barrier: the "two sweeps at the same time"
tests of the due-row steps (returns, tracks, disputes)."""

import threading

from django.db import connection


def run_together(fn, threads: int = 2, timeout: float = 120) -> list:
    """What each call of `fn()` returned; fails the test if one raised or hung."""
    results, errors = [], []
    barrier = threading.Barrier(threads)

    def worker():
        try:
            barrier.wait(timeout=10)
            results.append(fn())
        except Exception as exc:  # reported to the main thread
            errors.append(exc)
        finally:
            connection.close()

    started = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=timeout)
    assert not any(t.is_alive() for t in started), "a call hung"
    assert not errors, errors
    return results
