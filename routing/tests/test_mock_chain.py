"""The mock chain in processes forked from one another, as rqworker-pool
forks its workers after this module is imported."""

import os

import pytest

from routing import mock


def in_a_child(draw) -> str:
    """What `draw()` returns in a process forked from this one."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: write the draw and leave at once
        try:
            os.write(write, repr(draw()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        drawn = pipe.read()
    os.waitpid(pid, 0)
    return drawn


@pytest.mark.parametrize("seed", ["", "7"])
def test_forked_workers_sign_their_transactions_each_with_a_signature_of_its_own(seed, settings):
    settings.MOCK_SEED = seed
    assert in_a_child(mock.new_signature) != in_a_child(mock.new_signature)
    assert len({mock.new_signature() for _ in range(1000)}) == 1000


def test_unseeded_forked_workers_draw_their_own_latencies_and_failures(settings):
    settings.MOCK_SEED = ""
    assert in_a_child(mock.rng.random) != in_a_child(mock.rng.random)


def test_a_seeded_process_replays_its_seed_in_each_forked_worker(settings):
    settings.MOCK_SEED = "7"
    assert in_a_child(mock.rng.random) == in_a_child(mock.rng.random)
