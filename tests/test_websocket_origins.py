"""A browser's socket must come from a page of this engine's; a program's
(no Origin header) may come from anywhere."""

import asyncio

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator

from config.origins import BrowserOriginValidator


class Accepts(AsyncWebsocketConsumer):
    async def connect(self):
        await self.accept()


def opens(allowed_hosts: list[str], headers: list[tuple[bytes, bytes]]) -> bool:
    async def attempt():
        application = BrowserOriginValidator(Accepts.as_asgi(), allowed_hosts)
        communicator = WebsocketCommunicator(application, "/ws/orders", headers=headers)
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    return asyncio.run(attempt())


HOST = (b"host", b"192.168.1.20:8000")


@pytest.mark.parametrize(
    "origin, expected",
    [
        (b"http://192.168.1.20:8000", True),  # the engine's own page
        (b"http://evil.example", False),  # any other site a visitor has open
        (b"http://192.168.1.20:9000", False),
        (b"null", False),
    ],
)
def test_with_every_host_name_allowed_a_page_must_come_from_the_host_it_connects_to(origin, expected):
    # make run on 0.0.0.0: ALLOWED_HOSTS is "*", which Channels' own
    # validator takes as any origin at all.
    assert opens(["*"], [HOST, (b"origin", origin)]) is expected


def test_a_program_sending_no_origin_connects_and_listed_hosts_are_checked_as_before():
    assert opens(["*"], [HOST])
    assert opens(["127.0.0.1"], [(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000")])
    assert not opens(["127.0.0.1"], [(b"host", b"127.0.0.1:8000"), (b"origin", b"http://evil.example")])
