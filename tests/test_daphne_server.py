"""daphne lets go of a connection as soon as it is closed and its
application has returned, rather than at its once-a-second check
(config/daphne_server.py). daphne's Server itself, on a real event loop;
a connection here is what daphne keys its list by, since these methods use
nothing else of it."""

import asyncio

from config.daphne_server import PromptServer

DEADLINE_SECONDS = 5
# daphne wants one to be made; these servers never listen.
ENDPOINTS = ["tcp:port=0:interface=127.0.0.1"]


async def until(condition) -> None:
    """Let the loop run until `condition()` holds, for DEADLINE_SECONDS at most."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_SECONDS
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0)


async def socket_app(scope, receive, send):
    """Returns when the server passes on the disconnect."""
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def refusing_app(scope, receive, send):
    """Returns at once, as one that rejects the socket may."""


async def failing_app(scope, receive, send):
    await receive()
    raise RuntimeError("the application failed")


def server_of(application) -> PromptServer:
    server = PromptServer(application, endpoints=ENDPOINTS)
    server.connections = {}  # as its run() starts, which would listen
    return server


def connect(server: PromptServer) -> tuple[object, asyncio.Queue]:
    connection = object()
    server.protocol_connected(connection)
    return connection, server.create_application(connection, {"type": "websocket"})


def test_a_closed_connection_is_let_go_once_its_application_returns():
    async def run():
        server = server_of(socket_app)
        connection, queue = connect(server)

        server.protocol_disconnected(connection)
        await asyncio.sleep(0)
        assert connection in server.connections  # its application runs still

        queue.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await until(lambda: connection not in server.connections)

    asyncio.run(run())


def test_a_connection_whose_application_returned_is_let_go_when_it_closes():
    async def run():
        server = server_of(socket_app)
        connection, queue = connect(server)
        queue.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await until(lambda: server.connections[connection]["application_instance"].done())
        assert connection in server.connections  # open still

        server.protocol_disconnected(connection)

        assert connection not in server.connections

    asyncio.run(run())


def test_a_failed_application_is_left_for_daphnes_check_to_report():
    async def run():
        server = server_of(failing_app)
        connection, queue = connect(server)
        queue.put_nowait({"type": "websocket.receive", "text": "hello"})
        instance = server.connections[connection]["application_instance"]
        await until(instance.done)

        server.protocol_disconnected(connection)

        assert server.connections[connection]["application_instance"] is instance
        assert isinstance(instance.exception(), RuntimeError)

    asyncio.run(run())


def test_a_connection_closed_before_its_application_started_is_let_go():
    server = server_of(socket_app)
    connection = object()
    server.protocol_connected(connection)

    server.protocol_disconnected(connection)

    assert connection not in server.connections


def test_a_connection_told_of_as_closed_twice_is_let_go_once():
    """daphne reports a socket rejected before its accept as closed twice:
    at its reject, then at autobahn's close."""

    async def run():
        server = server_of(refusing_app)
        connection, _queue = connect(server)
        await until(server.connections[connection]["application_instance"].done)

        server.protocol_disconnected(connection)
        server.protocol_disconnected(connection)

        assert connection not in server.connections

    asyncio.run(run())
