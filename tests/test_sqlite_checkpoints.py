"""SQLite's checkpoints run in the clock's thread, not in the commits of the
writers queued for the write lock (config/sqlite/checkpoint.py)."""

import os
import time
from pathlib import Path

import pytest
from django.db import connection, connections

from config.sqlite import checkpoint as checkpoints
from config.sqlite.checkpoint import Checkpointer, checkpoint
from config.threads import MAIN_THREAD_SIGNALS
from tests.engine import blocked_signals, wait_until
from tests.halves import sqlite_half_only

pytestmark = sqlite_half_only("SQLite's checkpoints")

PAGE = 4096


@pytest.fixture
def probe(tmp_path, django_db_blocker):
    """The alias of a fresh SQLite file with the engine's settings (not the
    test database), holding a table whose rows take a page each. It skips
    fsync, whose time on a busy disk is not what these tests are about."""
    options = connection.settings_dict["OPTIONS"]
    connections.settings["probe"] = {
        **connection.settings_dict,
        "NAME": str(tmp_path / "probe.sqlite3"),
        "OPTIONS": {**options, "init_command": options["init_command"] + " PRAGMA synchronous=OFF;"},
    }
    with django_db_blocker.unblock():
        with connections["probe"].cursor() as cursor:
            cursor.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY, body BLOB)")
        yield "probe"
        connections["probe"].close()
    del connections["probe"]
    del connections.settings["probe"]


def write(alias: str) -> None:
    """One write transaction, as Django's atomic takes it (the flock first)."""
    wrapper = connections[alias]
    wrapper.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("INSERT INTO probe (body) VALUES (randomblob(3000))")
        wrapper.commit()
    finally:
        wrapper.set_autocommit(True)


def log_pages(alias: str) -> int:
    """The pages in the database's write-ahead log (copying them as it counts)."""
    with connections[alias].cursor() as cursor:
        return cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]


def test_a_commit_leaves_the_checkpoint_to_the_checkpointer(probe):
    """By SQLite's default the commit that takes the log past 1,000 pages
    copies it, and the next one starts it again from its beginning."""
    for _ in range(1200):
        write(probe)
    assert log_pages(probe) >= 1200


def test_the_checkpointer_keeps_the_log_short_under_steady_writes(probe):
    """A writer that never stops for long is always ahead of a copy made
    beside it: without the pass under the write lock the log grew 5 to 9
    times longer here."""
    checkpointer = Checkpointer(probe, every=0.05).start()
    writes = 800  # a count, not a time: as many on a slow machine as on a fast one
    try:
        for _ in range(writes):
            write(probe)
            time.sleep(0.001)  # as the engine's writers, which do more than write
    finally:
        checkpointer.stop()
    with connections[probe].cursor() as cursor:
        assert cursor.execute("SELECT count(*) FROM probe").fetchone()[0] == writes
    log_file = Path(connections.settings[probe]["NAME"] + "-wal")
    # The file is as long as the longest the log has been.
    assert log_file.stat().st_size < writes * PAGE / 4


def test_after_a_checkpoint_the_next_writer_starts_the_log_again(probe):
    for _ in range(10):
        write(probe)
    pages, copied = checkpoint(connections[probe])
    assert pages >= 10
    assert copied == pages
    write(probe)
    pages, copied = checkpoint(connections[probe])
    assert pages < 10  # this write's pages only (the row's, its parent's, the header)
    assert copied == pages


def test_the_checkpointer_copies_only_after_a_commit(probe, monkeypatch):
    rounds = []

    def counted(connection):
        rounds.append(checkpoint(connection))
        return rounds[-1]

    monkeypatch.setattr(checkpoints, "checkpoint", counted)
    checkpointer = Checkpointer(probe, every=0.01).start()
    try:
        wait_until(lambda: rounds, timeout=5, message="the first round")
        time.sleep(0.5)  # five rounds or more, each waiting twice as long, nothing written
        assert len(rounds) == 1
        write(probe)
        wait_until(lambda: len(rounds) == 2, timeout=5, message="a round after the commit")
    finally:
        checkpointer.stop()


def test_the_checkpointer_leaves_the_signals_to_the_clock(probe):
    """The clock hears its stop on its main thread, in its wait for timers
    (orders/management/commands/run_clock.py)."""
    checkpointer = Checkpointer(probe, every=0.05).start()
    try:
        assert MAIN_THREAD_SIGNALS <= blocked_signals(os.getpid(), checkpointer._thread.native_id)
    finally:
        checkpointer.stop()


def log_salt(database: str) -> bytes:
    """The log's header salt, which changes each time the log starts again."""
    with open(database + "-wal", "rb") as log_file:
        return log_file.read(24)[16:24]


def test_the_clock_runs_the_checkpoints_of_the_engines_database(engine):
    """No commit checkpoints before 10,000 pages, so the log starts again
    only after the clock's checkpointer has copied it whole."""
    started = log_salt(connection.settings_dict["NAME"])

    def started_again() -> bool:
        engine.wait_terminal(engine.place({"amount": "0.1"})["orderId"])
        return log_salt(connection.settings_dict["NAME"]) != started

    wait_until(started_again, timeout=30, interval=0, message="the log to start again")
