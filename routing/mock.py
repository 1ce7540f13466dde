"""The mock chain's behaviour: latencies, transient failures, signatures.

The market's randomness comes from `rng`, seeded by MOCK_SEED so that a run
can be reproduced. Tests patch it as the one seam of the mock market.
Transaction signatures do not: like a real chain's, no two are the same, in
any process, seeded or not.
"""

import os
import random
import secrets
import time

import base58
from django.conf import settings

from routing.errors import DexUnavailable

rng = random.Random(settings.MOCK_SEED or None)


def _draw_anew_in_a_child() -> None:
    # rqworker-pool imports this module before it forks its workers, and a
    # Random is copied with its state: unseeded, every worker would draw the
    # same latencies and failures as its siblings. Seeded, each process
    # replays the seed, which is what MOCK_SEED asks for.
    if not settings.MOCK_SEED:
        rng.seed()


os.register_at_fork(after_in_child=_draw_anew_in_a_child)


def _draw_ms(bounds: tuple[int, int]) -> float:
    low, high = bounds
    return (low if low == high else rng.uniform(low, high)) / 1000


def quote_latency_seconds() -> float:
    return _draw_ms(settings.MOCK_QUOTE_LATENCY_MS)


def swap_latency_seconds() -> float:
    """Time from submitting a transaction to its confirmation."""
    return _draw_ms(settings.MOCK_SWAP_LATENCY_MS)


def network_call(dex: str, what: str, *, wait: bool = True) -> None:
    """One call to a DEX: its latency, and sometimes a transient failure.
    `wait=False` when the caller has already waited the latency out (the
    order engine waits on a timer rather than in a sleeping worker)."""
    delay = quote_latency_seconds() if what == "quote" and wait else 0
    if delay:
        time.sleep(delay)
    if settings.MOCK_FAILURE_RATE and rng.random() < settings.MOCK_FAILURE_RATE:
        raise DexUnavailable(f"{dex} did not answer the {what} request (simulated outage)")


def new_signature() -> str:
    """A transaction signature as Solana prints it: 64 bytes in base58.

    Not from `rng`: the workers are forked from one process, and a seeded run
    replays its draws in each of them, so two orders were given one hash."""
    return base58.b58encode(secrets.token_bytes(64)).decode()
