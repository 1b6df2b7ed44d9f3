"""SQLite housekeeping for a server process: checkpoint the write-ahead log beside the
writer instead of inside its commits.

By default the commit that takes the WAL past 1,000 pages copies it back into the
database, which held a busy room's messages up for 50-150 ms at a time. The server
turns that off (`wal_autocheckpoint=0`, in settings) and checkpoints from a thread of its
own, which SQLite lets run alongside the writer.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_SECONDS = 1.0

_running: dict[str, threading.Event] = {}  # database path -> set to stop its checkpointer
_lock = threading.Lock()


def start_checkpointer(database_path: str, *, every: float = CHECKPOINT_EVERY_SECONDS) -> bool:
    """Checkpoint `database_path` every `every` seconds until stopped; one per file."""
    with _lock:
        if database_path in _running:
            return False
        stop = _running[database_path] = threading.Event()
    threading.Thread(
        target=_checkpoint_until_stopped,
        args=(database_path, every, stop),
        name="sqlite-checkpoint",
        daemon=True,
    ).start()
    return True


def stop_checkpointer(database_path: str) -> None:
    with _lock:
        stop = _running.pop(database_path, None)
    if stop is not None:
        stop.set()


def _checkpoint_until_stopped(database_path: str, every: float, stop: threading.Event) -> None:
    connection = sqlite3.connect(database_path, timeout=every, check_same_thread=False)
    while not stop.wait(every):
        try:
            # PASSIVE never waits for readers or the writer; what it cannot copy now, a
            # later round does.
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            if not os.path.exists(database_path):
                return  # the database was removed (a test run's, say): nothing to keep up
            log.warning(
                "WAL checkpoint failed; will retry",
                extra={"database": str(database_path)},
                exc_info=True,
            )
