"""python -m config.server: one daphne server, on uvloop's event loop.

It takes daphne's own arguments (`python -m config.web` passes them on).
daphne runs Twisted on top of asyncio, so every socket read and write,
timer and callback of a web process goes through the event loop; with the
standard library's loop that bookkeeping was a fifth of a web process's CPU
at saturation. uvloop is the same asyncio loop, written in C on libuv.
"""

import asyncio
import os
import sys

import uvloop


def _qualified_name(function, *args, **kwargs) -> str:
    return getattr(function, "__qualname__", "?")


def _as_is(value, *args, **kwargs):
    return value


def plain_autobahn_debug_arguments() -> None:
    """autobahn logs every WebSocket read and write at debug level, and
    builds those lines' arguments first, debug or not: each name and value
    coloured by click for a terminal (2.4 % of a web process at saturation).
    Here they are the method's name and the value as they are: cheap when
    the line is dropped, and no terminal escapes in JSON logs when it isn't."""
    from autobahn.twisted import websocket as twisted_websocket
    from autobahn.websocket import protocol

    for module in (twisted_websocket, protocol):
        module.hltype, module.hlval = _qualified_name, _as_is


def _no_access_log(stream):
    return None


def access_log_only_when_asked(argv: list[str]) -> None:
    """daphne writes an access line to stdout for every request and every
    WebSocket's connecting, connect and disconnect unless told otherwise: four
    unbuffered writes per order, each read again and written again by honcho
    under `make run`, 12-19 % of the engine's CPU per order at 150 orders/s.
    The orders' own log lines and /metrics tell an operator more, so it is
    written only when ACCESS_LOG names a file (`-` for stdout) or daphne's
    `--access-log` is given."""
    if any(arg.split("=", 1)[0] == "--access-log" for arg in argv):
        return
    target = os.environ.get("ACCESS_LOG", "").strip()
    if target:
        argv[1:1] = ["--access-log", target]
        return
    import daphne.cli

    daphne.cli.AccessLogGenerator = _no_access_log


def use_uvloop() -> None:
    """Must run before daphne.server is imported: it makes its loop then.
    (Event loop policies are deprecated from Python 3.14, where this would
    become a loop factory; the project runs on 3.11.)"""
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


if __name__ == "__main__":
    use_uvloop()

    # After daphne.server (imported by daphne.cli) has installed its reactor.
    from daphne.cli import CommandLineInterface

    plain_autobahn_debug_arguments()
    access_log_only_when_asked(sys.argv)
    CommandLineInterface.entrypoint()
