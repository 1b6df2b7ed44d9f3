"""The server's WAL checkpoints run beside the writer, so commits never stop to do them."""

import os
import sqlite3
import time

from chat.sqlite import start_checkpointer


def test_the_checkpointer_copies_the_log_back_while_commits_skip_it(tmp_path):
    path = str(tmp_path / "chat.sqlite3")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.executescript(
        "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t (x TEXT);"
    )
    for _ in range(300):
        writer.execute("INSERT INTO t VALUES (?)", ("x" * 4000,))
    # Everything written so far is still only in the log.
    assert os.path.getsize(path) < 100_000 < os.path.getsize(path + "-wal")

    assert start_checkpointer(path, every=0.05)
    assert not start_checkpointer(path, every=0.05)  # one per database file
    deadline = time.monotonic() + 5
    while os.path.getsize(path) < 1_200_000:
        assert time.monotonic() < deadline, "the log was never copied back"
        time.sleep(0.05)
    writer.execute("INSERT INTO t VALUES ('still writable')")
    assert writer.execute("SELECT count(*) FROM t").fetchone() == (301,)
