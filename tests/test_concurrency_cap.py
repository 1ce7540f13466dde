"""At most ORDER_CONCURRENCY orders are in flight (routing until terminal),
across every worker; the rest wait in pending and are admitted in order."""

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

TERMINAL = ("confirmed", "failed", "cancelled")


def in_flight_interval(order: dict) -> tuple[datetime, datetime]:
    times = {entry["status"]: datetime.fromisoformat(entry["at"]) for entry in order["history"]}
    end = next(times[status] for status in TERMINAL if status in times)
    return times["routing"], end


def peak_overlap(intervals) -> int:
    # Ends sort before starts at the same instant: a slot freed and re-used
    # in the same microsecond is not two orders at once.
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def test_twenty_five_orders_never_have_more_than_ten_in_flight(engines, market):
    engine = engines("cap", ORDER_CONCURRENCY="10", MOCK_SWAP_LATENCY_MS="300-500")

    with ThreadPoolExecutor(max_workers=25) as pool:
        placed = list(pool.map(lambda i: engine.place({"amount": "0.5"}), range(25)))
    orders = [engine.wait_terminal(answer["orderId"], timeout=60) for answer in placed]

    assert all(order["status"] == "confirmed" for order in orders), [o["error"] for o in orders]
    peak = peak_overlap([in_flight_interval(order) for order in orders])
    assert 1 < peak <= 10


def test_pending_orders_are_admitted_in_the_order_they_arrived(engines, market):
    engine = engines("cap-of-two", ORDER_CONCURRENCY="2", MOCK_SWAP_LATENCY_MS="100")

    placed = [engine.place({"amount": "0.1"}) for _ in range(8)]
    orders = [engine.wait_terminal(answer["orderId"], timeout=60) for answer in placed]

    admitted = [in_flight_interval(order)[0] for order in orders]
    assert admitted == sorted(admitted)
    assert peak_overlap([in_flight_interval(order) for order in orders]) <= 2
