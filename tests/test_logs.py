"""Structured logs: JSON lines with the order id on every line of its life."""

import io
import json
import logging

from config.logformat import JsonFormatter, PlainFormatter
from orders.logcontext import OrderIdFilter, order_context
from tests.engine import LOG_DIR, wait_until


def _log_with(formatter, emit) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(OrderIdFilter())
    logger = logging.getLogger("tests.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return stream.getvalue()


def test_a_json_line_carries_the_order_id_and_extra_fields():
    def emit(logger):
        with order_context("5f0c"):
            logger.info("routing decision %s", "raydium", extra={"route": {"dex": "raydium"}})
        logger.warning("outside any order")

    inside, outside = (json.loads(line) for line in _log_with(JsonFormatter(), emit).splitlines())
    assert inside["message"] == "routing decision raydium" and inside["level"] == "INFO"
    assert inside["orderId"] == "5f0c" and inside["route"] == {"dex": "raydium"}
    assert inside["logger"] == "tests.logs" and inside["time"].endswith("Z")
    assert "orderId" not in outside


def test_an_exception_stays_on_one_json_line():
    def emit(logger):
        try:
            raise ValueError("bad")
        except ValueError:
            logger.exception("it broke")

    lines = _log_with(JsonFormatter(), emit).splitlines()
    assert len(lines) == 1 and "ValueError: bad" in json.loads(lines[0])["exception"]


def test_plain_lines_name_the_order_for_people():
    def emit(logger):
        with order_context("5f0c"):
            logger.info("hello")

    assert _log_with(PlainFormatter(), emit).rstrip().endswith("INFO tests.logs hello [order 5f0c]")


def test_a_job_sets_the_order_while_it_works_on_it_only():
    with order_context("abc"):
        inside = logging.makeLogRecord({})
        OrderIdFilter().filter(inside)
    after = logging.makeLogRecord({})
    OrderIdFilter().filter(after)
    assert inside.order_id == "abc" and after.order_id is None


def test_the_workers_log_the_routing_decision_with_the_order_id(engine):
    order_id = engine.place({"amount": "1"})["orderId"]
    engine.wait_terminal(order_id)

    def order_lines():
        lines = []
        for path in LOG_DIR.glob(f"{engine.name}-worker*.log"):
            for line in path.read_text(errors="replace").splitlines():
                if order_id in line and line.startswith("{"):
                    lines.append(json.loads(line))
        return lines

    lines = wait_until(order_lines, timeout=5, message="the worker's log lines for the order")
    assert all(line["orderId"] == order_id for line in lines)
    assert any(
        line["logger"] == "routing" and line["message"].startswith("routing decision") for line in lines
    )
