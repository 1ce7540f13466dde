"""python -m config.server: one daphne server, on uvloop's event loop.

It takes daphne's own arguments (`python -m config.web` passes them on).
daphne runs Twisted on top of asyncio, so every socket read and write,
timer and callback of a web process goes through the event loop; with the
standard library's loop that bookkeeping was a fifth of a web process's CPU
at saturation. uvloop is the same asyncio loop, written in C on libuv.
"""

import asyncio

import uvloop


def use_uvloop() -> None:
    """Must run before daphne.server is imported: it makes its loop then.
    (Event loop policies are deprecated from Python 3.14, where this would
    become a loop factory; the project runs on 3.11.)"""
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


if __name__ == "__main__":
    use_uvloop()

    from daphne.cli import CommandLineInterface

    CommandLineInterface.entrypoint()
