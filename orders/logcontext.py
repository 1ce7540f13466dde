"""The order id on every log line of that order's life.

A job sets the order it works on while it works on it (`order_context`); a
logging filter (`OrderIdFilter`, installed on the console handler in
settings) copies it onto each record as `order_id`, so a line logged deep in
`routing` or by rq while the job runs carries it too, without every call
site passing it. A context variable, not a thread-local: it is right in
threads and in asyncio tasks alike.
"""

import contextvars
import logging
import re
from contextlib import contextmanager

_order_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("order_id", default=None)


def current_order_id() -> str | None:
    return _order_id.get()


@contextmanager
def order_context(order_id):
    token = _order_id.set(str(order_id) if order_id is not None else None)
    try:
        yield
    finally:
        _order_id.reset(token)


# rq logs each job as it takes and finishes it, outside the job's context:
# "orders: orders.jobs.advance_orders('<order id>') (<job id>)". A job of
# several orders credits its lines to none of them; the job's own lines, about
# one order each, carry that order's id.
_RQ_JOB_LINE = re.compile(r"orders\.jobs\.\w+\('([0-9a-f-]{36})'\)")


class OrderIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "order_id", None) is None:
            record.order_id = _order_id.get()
        if record.order_id is None and str(record.name).startswith("rq."):
            match = _RQ_JOB_LINE.search(record.getMessage())
            if match:
                record.order_id = match.group(1)
        return True
