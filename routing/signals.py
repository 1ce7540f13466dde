"""Telling the rest of the engine that pools changed.

`pools_changed` is sent after the transaction that moved a pool commits (a
swap, the drift, a launch), with `pairs`: the (token_a, token_b) symbols of
the pools that moved. Waiting limit and sniper orders listen to it, so a
price that crosses their trigger wakes them without anyone polling.
"""

from django.db import transaction
from django.dispatch import Signal

pools_changed = Signal()


def announce_on_commit(pairs) -> None:
    pairs = frozenset(pairs)
    if pairs:
        transaction.on_commit(lambda: pools_changed.send(sender=None, pairs=pairs))
