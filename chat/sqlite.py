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
import time

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_SECONDS = 1.0

_started: set[str] = set()
_lock = threading.Lock()


def start_checkpointer(database_path: str, *, every: float = CHECKPOINT_EVERY_SECONDS) -> bool:
    """Checkpoint `database_path` every `every` seconds from now on; once per file."""
    with _lock:
        if database_path in _started:
            return False
        _started.add(database_path)
    threading.Thread(
        target=_checkpoint_forever,
        args=(database_path, every),
        name="sqlite-checkpoint",
        daemon=True,
    ).start()
    return True


def _checkpoint_forever(database_path: str, every: float) -> None:
    connection = sqlite3.connect(database_path, timeout=every, check_same_thread=False)
    while True:
        time.sleep(every)
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
