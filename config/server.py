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

from config.env import FALSE_WORDS, TRUE_WORDS


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


def _names_access_log(arg: str) -> bool:
    # daphne's parser takes any unambiguous prefix: `--ac` is one.
    name = arg.split("=", 1)[0]
    return name.startswith("--ac") and "--access-log".startswith(name)


def access_log_only_when_asked(argv: list[str]) -> None:
    """daphne writes an access line to stdout for every request and every
    WebSocket's connecting, connect and disconnect unless told otherwise: four
    unbuffered writes per order, each read and written again by honcho under
    `make run`, where at 100 orders/s on 2 cores they were 5-16 % of the
    engine's CPU per order (BENCHMARKS.md). The orders' own log lines and
    /metrics tell an operator more, so the access log is written only when
    daphne's `--access-log` is given or ACCESS_LOG names where: a file, or
    `-` (or true, on, yes, 1) for stdout."""
    if any(_names_access_log(arg) for arg in argv[1:]):
        return
    target = os.environ.get("ACCESS_LOG", "").strip()
    if target.lower() in TRUE_WORDS:
        target = "-"
    elif target.lower() in FALSE_WORDS:
        target = ""
    if target:
        argv[1:1] = [f"--access-log={target}"]
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

    from config.daphne_server import PromptServer

    CommandLineInterface.server_class = PromptServer

    plain_autobahn_debug_arguments()
    access_log_only_when_asked(sys.argv)
    CommandLineInterface.entrypoint()
