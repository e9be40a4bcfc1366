"""`make run`'s last step: the Celery worker (with its embedded beat) and Django's
development server side by side, living and dying together.

    python scripts/run.py [--host 127.0.0.1] [--port 8000]

Each child runs in a session (and so a process group) of its own, and this
script alone decides when they stop: on SIGTERM, SIGINT or SIGHUP — sent to it
alone or to its whole process group, as a process manager or Ctrl-C does — or
when either child exits, both children's groups get one SIGTERM, then SIGKILL
after a grace period. The worker's beat process and runserver's reloader child
go with their groups. (The shell trap this replaces, `trap 'kill 0' EXIT INT
TERM`, signalled its own process group, itself included: under a group-wide
TERM it re-entered its own trap until make crashed, the worker printing "Warm
shutdown" thousands of times.)

The environment passes through unchanged; `make run` sets DEBUG=1 in it.
"""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GRACE_SECONDS = 10  # the worker finishes its current task (a sweep pass) on SIGTERM
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def start(command: list[str]) -> subprocess.Popen:
    # A session of its own: a signal to our group never reaches the child, so
    # each child hears exactly one TERM, ours; stdin is not the terminal, so
    # no child can be stopped for touching it from outside the foreground group.
    return subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, start_new_session=True)


def stop(children: list[subprocess.Popen]) -> None:
    """One SIGTERM to each running child's group; SIGKILL to what is left after the grace period."""
    for child in children:  # the group even of a child that exited: what it left behind goes too
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.wait()
    for child in children:  # a grandchild that ignored the TERM
        _signal_group(child, signal.SIGKILL)


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
        os.killpg(child.pid, signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="8000")
    args = parser.parse_args(argv)
    commands = [
        [str(BIN / "celery"), "-A", "config", "worker", "-B", "--pool=solo", "--loglevel=WARNING"],
        [sys.executable, "manage.py", "runserver", f"{args.host}:{args.port}"],
    ]

    # The handler only takes note (raising from it could strike between starting
    # a child and recording it, and leave that child running).
    received: list[int] = []
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda signum, frame: received.append(signum))
    children: list[subprocess.Popen] = []
    exited = None
    try:
        for command in commands:
            if not received:
                children.append(start(command))
        while not received and exited is None:
            time.sleep(0.2)
            exited = next((child for child in children if child.poll() is not None), None)
    finally:
        # Stop once: a second signal (make forwards its own TERM; Ctrl-C pressed
        # again) must not interrupt the stopping half-way.
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        stop(children)

    if received:
        # Die of the signal that stopped us, so make and shells report it as such.
        signal.signal(received[0], signal.SIG_DFL)
        os.kill(os.getpid(), received[0])
        return 128 + received[0]
    name = "the worker" if exited is children[0] else "the web server"
    print(f"run: {name} exited with {exited.returncode}; both are stopped.", file=sys.stderr)
    return exited.returncode if exited.returncode >= 0 else 128 - exited.returncode


if __name__ == "__main__":
    sys.exit(main())
