"""Place orders on a running engine, as a client would, and watch them end.

    python manage.py place_orders -n 20 --amount 1.5 --pair SOL/USDC --url http://127.0.0.1:8000

An engine that requires API keys takes one with `--api-key` (or from
`ORDER_ENGINE_API_KEY`, which keeps it out of the shell's history); the
orders are then that key's, to cancel and to replay.

Each order is placed through the REST API and watched over its WebSocket
(`wsUrl`) until its terminal status; a progress bar runs on stderr and a
summary (per-order latency, confirmed / failed counts) is printed at the end.
It talks only HTTP and WebSocket, so it works against any engine, local or not.
"""

import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import httpx
import websockets
from django.core.management.base import BaseCommand, CommandError

TERMINAL = ("confirmed", "failed", "cancelled")


@dataclass
class Outcome:
    number: int
    order_id: str | None = None
    status: str = "unplaced"
    dex: str | None = None
    error: str | None = None
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    statuses: list[str] = field(default_factory=list)

    @property
    def latency(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


class Progress:
    """A one-line bar on stderr, redrawn in place on a terminal."""

    def __init__(self, total: int, stream, *, width: int = 30):
        self.total, self.stream, self.width = total, stream, width
        self.done = self.confirmed = self.failed = 0
        self.tty = getattr(stream, "isatty", lambda: False)()

    def update(self, outcome: Outcome) -> None:
        self.done += 1
        self.confirmed += outcome.status == "confirmed"
        self.failed += outcome.status != "confirmed"
        filled = self.width * self.done // max(self.total, 1)
        line = (
            f"[{'#' * filled}{'-' * (self.width - filled)}] {self.done}/{self.total} "
            f"({self.confirmed} confirmed, {self.failed} not)"
        )
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        if self.tty and self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()


async def _watch(outcome: Outcome, ws_url: str, client: httpx.AsyncClient, base_url: str) -> None:
    """Follow the order's socket to its terminal status; if the socket fails,
    ask REST (the socket is at-most-once, REST is the truth)."""
    try:
        async with websockets.connect(ws_url, open_timeout=10) as socket:
            async for frame in socket:
                message = json.loads(frame)
                if message.get("type") == "snapshot":
                    outcome.statuses = [entry["status"] for entry in message.get("history", [])]
                elif message.get("type") == "status":
                    outcome.statuses.append(message["status"])
                else:
                    continue
                outcome.dex = message.get("dex") or outcome.dex
                outcome.error = message.get("errorCode") or message.get("error") or outcome.error
                if message["status"] in TERMINAL:
                    outcome.status, outcome.ended = message["status"], time.monotonic()
                    return
    except (OSError, websockets.WebSocketException):
        pass
    while True:
        try:
            answer = (await client.get(f"{base_url}/api/orders/{outcome.order_id}")).json()
        except (httpx.HTTPError, ValueError):
            # The order is placed: a failed look is no reason to call it unplaced.
            answer = {}
        if answer.get("status") in TERMINAL:
            outcome.status, outcome.ended = answer["status"], time.monotonic()
            outcome.dex, outcome.error = answer.get("dex"), answer.get("errorCode") or answer.get("error")
            return
        await asyncio.sleep(0.25)


async def _one(number: int, body: dict, base_url: str, client, limit: asyncio.Semaphore, progress) -> Outcome:
    outcome = Outcome(number)
    async with limit:
        outcome.started = time.monotonic()
        try:
            response = await client.post(f"{base_url}/api/orders/execute", json=body)
            answer = response.json()
            if response.status_code not in (200, 201, 202):
                outcome.status, outcome.error = f"rejected ({response.status_code})", answer.get("error")
            else:
                outcome.order_id = answer["orderId"]
                await _watch(outcome, answer["wsUrl"], client, base_url)
        except (httpx.HTTPError, ValueError) as exc:
            outcome.status, outcome.error = "unplaced", f"{exc.__class__.__name__}: {exc}"
    progress.update(outcome)
    return outcome


async def run(
    *,
    count: int,
    body: dict,
    base_url: str,
    concurrency: int,
    timeout: float,
    progress,
    api_key: str = "",
) -> list[Outcome]:
    limit = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(timeout=15, headers=headers) as client:
        tasks = [
            asyncio.create_task(_one(n, body, base_url, client, limit, progress)) for n in range(1, count + 1)
        ]
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    outcomes = [task.result() for task in done if not task.exception()]
    seen = {outcome.number for outcome in outcomes}
    outcomes += [Outcome(number, status="timed out") for number in range(1, count + 1) if number not in seen]
    return sorted(outcomes, key=lambda outcome: outcome.number)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Command(BaseCommand):
    help = "Place N orders on a running engine through its REST API and watch them over WebSockets."

    def add_arguments(self, parser):
        parser.add_argument("-n", "--count", type=int, default=10, help="How many orders (default 10).")
        parser.add_argument("--amount", default="1", help="Amount of the input token per order (default 1).")
        parser.add_argument("--pair", default="SOL/USDC", help="tokenIn/tokenOut (default SOL/USDC).")
        parser.add_argument("--slippage-bps", type=int, default=50)
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000", help="The engine (default %(default)s)."
        )
        parser.add_argument("--concurrency", type=int, default=50, help="Orders placed and watched at once.")
        parser.add_argument("--timeout", type=float, default=300, help="Seconds to wait for all orders.")
        parser.add_argument(
            "--api-key",
            default=os.environ.get("ORDER_ENGINE_API_KEY", ""),
            help="Sent as `Authorization: Bearer <key>` (default: $ORDER_ENGINE_API_KEY, if set).",
        )

    def handle(self, *args, count, amount, pair, slippage_bps, url, concurrency, timeout, api_key, **options):
        if count < 1:
            raise CommandError("-n must be at least 1")
        token_in, slash, token_out = pair.partition("/")
        if not slash or not token_in or not token_out:
            raise CommandError(f"--pair must look like SOL/USDC, got {pair!r}")
        try:
            Decimal(amount)
        except InvalidOperation:
            raise CommandError(f"--amount must be a decimal number, got {amount!r}") from None
        body = {"amount": amount, "tokenIn": token_in, "tokenOut": token_out, "slippageBps": slippage_bps}
        api_key = api_key.strip()  # a key read from a file keeps its newline
        base_url = url.rstrip("/")
        stderr = getattr(self.stderr, "_out", sys.stderr)
        progress = Progress(count, stderr)
        started = time.monotonic()
        outcomes = asyncio.run(
            run(
                count=count,
                body=body,
                base_url=base_url,
                concurrency=concurrency,
                timeout=timeout,
                progress=progress,
                api_key=api_key,
            )
        )
        self._summary(outcomes, time.monotonic() - started)
        if any(outcome.status not in TERMINAL for outcome in outcomes):
            raise CommandError("some orders were not placed or did not finish; see the summary above")

    def _summary(self, outcomes: list[Outcome], elapsed: float) -> None:
        write = self.stdout.write
        write(f"{'#':>4}  {'order':36}  {'status':10}  {'dex':8}  {'latency':>8}  detail")
        for outcome in outcomes:
            latency = f"{outcome.latency:.2f}s" if outcome.latency is not None else "-"
            write(
                f"{outcome.number:>4}  {outcome.order_id or '-':36}  {outcome.status:10}  "
                f"{outcome.dex or '-':8}  {latency:>8}  {outcome.error or ''}"
            )
        counts: dict[str, int] = {}
        for outcome in outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        latencies = [outcome.latency for outcome in outcomes if outcome.latency is not None]
        write("")
        write(
            f"{len(outcomes)} orders in {elapsed:.1f}s: "
            + ", ".join(f"{number} {status}" for status, number in sorted(counts.items()))
        )
        if latencies:
            write(
                f"latency: min {min(latencies):.2f}s, median {statistics.median(latencies):.2f}s, "
                f"p95 {_percentile(latencies, 0.95):.2f}s, max {max(latencies):.2f}s"
            )
