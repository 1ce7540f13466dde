"""How long a step took, on an order's page: never "1 min 60 s"."""

import pytest

from orders.templatetags.orders_format import duration


@pytest.mark.parametrize(
    ("ms", "shown"),
    [
        (None, ""),
        (999, "999 ms"),
        (1_000, "1.00 s"),
        (59_994, "59.99 s"),
        (59_999, "1 min 0 s"),
        (60_000, "1 min 0 s"),
        (119_400, "1 min 59 s"),
        (119_600, "2 min 0 s"),
        (3_599_700, "60 min 0 s"),
    ],
)
def test_a_duration_reads_as_people_write_it(ms, shown):
    assert duration(ms) == shown
