"""The part of `demo_data` that runs in a separate (forked) process: turning a
chunk's rows into COPY's CSV. Nothing here touches Django or the database: the
child shares the parent's memory, never its connection."""

import csv
import json
import signal
from io import StringIO

_JSON = json.JSONEncoder(ensure_ascii=False).encode


def ignore_interrupts() -> None:
    """Ctrl-C is the parent's to handle: it stops the generator and rolls back;
    the formatter finishes what it was given instead of dying mid-task."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def csv_text(rows: list[tuple], json_positions: tuple[int, ...]) -> str:
    """One table's rows of a chunk as CSV; JSON columns encoded here."""
    if json_positions:
        rows = [list(row) for row in rows]
        for row in rows:
            for i in json_positions:
                if row[i] is not None:
                    row[i] = _JSON(row[i])
    buffer = StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()
