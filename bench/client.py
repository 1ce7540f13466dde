"""The load: C clients, each placing an order over REST, then following it on
its WebSocket until the server closes it, then placing the next one, until N
orders are placed. Receive times are taken with time.time(), on the same
machine clock as the `at` the engine stamps on each status."""

import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp

TERMINAL = {"confirmed", "failed", "cancelled"}
POST_TIMEOUT = aiohttp.ClientTimeout(total=30)


def parse_at(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


@dataclass
class OrderRecord:
    index: int
    amount: str
    post_started: float = 0.0
    post_finished: float = 0.0
    http_status: int | None = None
    order_id: str | None = None
    # status -> server time (`at`) of the first time it was reached, from the
    # snapshot's history and the status messages together.
    reached: dict[str, float] = field(default_factory=dict)
    # (status, server `at`, client receipt) of every status message received.
    messages: list[tuple[str, float, float]] = field(default_factory=list)
    terminal: str | None = None
    terminal_seen: float | None = None
    error_code: str | None = None
    reconnects: int = 0
    problem: str | None = None

    @property
    def end_to_end(self) -> float | None:
        return self.terminal_seen - self.post_started if self.terminal_seen else None


class Progress:
    """One line on stderr, redrawn a few times a second."""

    def __init__(self, total: int, *, enabled: bool = True):
        self.total = total
        self.enabled = enabled
        self.placed = self.done = self.failed = self.open = 0
        self.started = time.time()
        self._tty = sys.stderr.isatty()
        self._last_line = 0.0

    def draw(self, *, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.time()
        if not self._tty and not final and now - self._last_line < 5:
            return
        self._last_line = now
        width = 30
        filled = int(width * self.done / self.total) if self.total else width
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} done "
            f"{rate:6.1f}/s  placed {self.placed}  open sockets {self.open}  failed {self.failed}  "
            f"{elapsed:5.1f}s"
        )
        end = "\n" if final or not self._tty else ""
        print(("\r" if self._tty else "") + line, end=end, file=sys.stderr, flush=True)

    async def run(self) -> None:
        while True:
            self.draw()
            await asyncio.sleep(0.25)


async def _follow(
    record: OrderRecord, ws_url: str, session: aiohttp.ClientSession, progress: Progress
) -> None:
    """Read the order's socket until it closes after a terminal status; reconnect
    (the snapshot resyncs) if it closes before one."""
    while record.terminal is None:
        try:
            progress.open += 1
            async with session.ws_connect(ws_url, max_msg_size=2**20, autoping=False) as ws:
                async for frame in ws:
                    received = time.time()
                    if frame.type != aiohttp.WSMsgType.TEXT:
                        continue
                    message = json.loads(frame.data)
                    kind = message.get("type")
                    if kind == "snapshot":
                        for entry in message.get("history") or []:
                            record.reached.setdefault(entry["status"], parse_at(entry["at"]))
                        status = message.get("status")
                    elif kind == "status":
                        status = message["status"]
                        at = parse_at(message["at"])
                        record.messages.append((status, at, received))
                        record.reached.setdefault(status, at)
                    else:
                        continue
                    if status in TERMINAL and record.terminal is None:
                        record.terminal, record.terminal_seen = status, received
                        record.error_code = message.get("errorCode")
        except (OSError, aiohttp.ClientError) as exc:
            record.problem = f"websocket: {exc!r}"
        finally:
            progress.open -= 1
        if record.terminal is None:
            record.reconnects += 1
            await asyncio.sleep(0.2)


async def _one_order(
    record: OrderRecord,
    http: aiohttp.ClientSession,
    url: str,
    progress: Progress,
    timeout: float,
    body_extra: dict,
) -> None:
    body = {"amount": record.amount, "tokenIn": "SOL", "tokenOut": "USDC", **body_extra}
    record.post_started = time.time()
    try:
        async with http.post(f"{url}/api/orders/execute", json=body, timeout=POST_TIMEOUT) as response:
            text = await response.text()
    except (OSError, aiohttp.ClientError) as exc:
        record.post_finished = time.time()
        record.problem = f"POST: {exc!r}"
        return
    record.post_finished = time.time()
    record.http_status = response.status
    if response.status not in (200, 201, 202):
        record.problem = f"POST answered {response.status}: {text[:200]}"
        return
    answer = json.loads(text)
    record.order_id = answer["orderId"]
    progress.placed += 1
    try:
        await asyncio.wait_for(_follow(record, answer["wsUrl"], http, progress), timeout)
    except TimeoutError:
        record.problem = f"no terminal status within {timeout:.0f}s of the POST"


async def place_waiting(url: str, count: int, *, clients: int = 20) -> int:
    """Place `count` limit orders selling SOL at 1,000,000 USDC, far above
    its price, which wait (as most do, far from the market) for a day;
    returns how many the engine accepted."""
    body = {
        "type": "limit",
        "tokenIn": "SOL",
        "tokenOut": "USDC",
        "amount": "0.01",
        "limitPrice": "1000000",
        "expiresInSeconds": 86400,
    }
    left, accepted = iter(range(count)), 0

    async def client(http: aiohttp.ClientSession) -> None:
        nonlocal accepted
        for _ in left:
            async with http.post(f"{url}/api/orders/execute", json=body, timeout=POST_TIMEOUT) as response:
                accepted += response.status == 202

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return accepted


async def run_load(
    *,
    url: str,
    orders: int,
    clients: int,
    order_timeout: float,
    rate: float | None = None,
    seed: int = 1,
    progress: bool = True,
    body_extra: dict | None = None,
) -> list[OrderRecord]:
    """Closed loop (the default): C clients, each placing its next order when
    the last one ended, as fast as the engine lets them. Open loop (`rate`):
    one order every 1/rate seconds whatever the engine does, so latencies are
    those of that load, not of a queue the clients themselves keep full."""
    rng = random.Random(seed)
    # Small orders (0.01..0.1 SOL) move the pools too little for slippage to fail them.
    records = [OrderRecord(index, f"{rng.uniform(0.01, 0.1):.3f}") for index in range(orders)]
    bar = Progress(orders, enabled=progress)
    queue: asyncio.Queue[OrderRecord] = asyncio.Queue()
    for record in records:
        queue.put_nowait(record)

    async def place(record: OrderRecord, http: aiohttp.ClientSession) -> None:
        await _one_order(record, http, url, bar, order_timeout, body_extra or {})
        bar.done += 1
        if record.terminal != "confirmed":
            bar.failed += 1

    async def client(http: aiohttp.ClientSession) -> None:
        while True:
            try:
                record = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await place(record, http)

    async def paced(http: aiohttp.ClientSession) -> None:
        started, placing = time.time(), []
        for index, record in enumerate(records):
            delay = started + index / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            placing.append(asyncio.create_task(place(record, http)))
        await asyncio.gather(*placing)

    # Keep-alive connections for the POSTs, one per client at most; each WebSocket has its own.
    connector = aiohttp.TCPConnector(limit=0)
    # No total timeout on the session: it would cut a socket that follows a long wait.
    opening = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=opening) as http:
        drawer = asyncio.create_task(bar.run())
        bar.started = time.time()
        if rate:
            await paced(http)
        else:
            await asyncio.gather(*(client(http) for _ in range(clients)))
        drawer.cancel()
    bar.draw(final=True)
    return records
