"""`manage.py place_orders` places orders on a running engine and watches them end."""

import io
import re

from django.core.management import call_command


def test_it_places_three_orders_and_summarises_them(engine):
    out, err = io.StringIO(), io.StringIO()

    call_command(
        "place_orders",
        "-n",
        "3",
        "--amount",
        "0.5",
        "--pair",
        "SOL/USDC",
        "--url",
        engine.url,
        stdout=out,
        stderr=err,
    )

    summary = out.getvalue()
    rows = [line for line in summary.splitlines() if re.match(r"\s+\d+\s+[0-9a-f-]{36}\s", line)]
    assert len(rows) == 3
    assert all(" confirmed " in row and re.search(r"\d+\.\d\ds", row) for row in rows)
    assert "3 orders in" in summary and "3 confirmed" in summary
    assert "latency: min" in summary
    assert "3/3 (3 confirmed, 0 not)" in err.getvalue()
    for order_id in (row.split()[1] for row in rows):
        assert engine.order(order_id)["status"] == "confirmed"
