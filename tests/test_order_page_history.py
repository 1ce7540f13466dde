"""Pages and the REST API show an order's status with the steps it passed;
both come from one statement, so a status written in between cannot make
them disagree."""

from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders import services


def reads_of(captured, table: str) -> list[str]:
    """The SELECTs that read this table, alone or joined to another."""
    return [q["sql"] for q in captured if q["sql"].startswith("SELECT") and f'"{table}"' in q["sql"]]


def assert_one_history_read_with_its_orders(captured, why: str = "") -> None:
    (history,) = reads_of(captured, "orders_orderevent")
    assert "JOIN" in history and '"orders_order"' in history, why


def order_reads_without_history(captured) -> list[str]:
    return [sql for sql in reads_of(captured, "orders_order") if '"orders_orderevent"' not in sql]


def test_the_order_page_reads_the_order_with_its_steps_in_one_statement(market, no_engine, client):
    order, _ = services.order_place(amount=Decimal("0.05"), token_in="SOL", token_out="USDC")

    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/orders/{order.pk}?fragment=1")

    assert response.status_code == 200
    assert "pending" in response.content.decode()
    assert_one_history_read_with_its_orders(captured)
    assert order_reads_without_history(captured) == []


def test_the_order_list_and_the_dashboard_read_each_order_with_its_steps(market, no_engine, client):
    placed = [
        services.order_place(amount=Decimal("0.05"), token_in="SOL", token_out="USDC")[0] for _ in range(3)
    ]

    for path in ("/api/orders", "/"):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)

        assert response.status_code == 200
        assert_one_history_read_with_its_orders(captured, path)
    listed = client.get("/api/orders").json()["results"]
    assert [order["orderId"] for order in listed] == [str(order.pk) for order in reversed(placed)]
    assert all([entry["status"] for entry in order["history"]] == ["pending"] for order in listed)


def test_the_list_filtered_by_status_leaves_out_an_order_that_moved_on_while_it_was_read(
    market, no_engine, client
):
    staying, moving = (
        services.order_place(amount=Decimal("0.05"), token_in="SOL", token_out="USDC")[0] for _ in range(2)
    )

    def a_worker_moves_it_between_the_two_reads(execute, sql, params, many, context):
        if sql.startswith("SELECT") and '"orders_orderevent"' in sql and not moved:
            moved.append(None)  # the move's own statements come through here too
            moved[0] = services.order_transition(order=moving, to="routing")
        return execute(sql, params, many, context)

    moved = []
    with connection.execute_wrapper(a_worker_moves_it_between_the_two_reads):
        listed = client.get("/api/orders?status=pending").json()["results"]

    assert moved == [True]
    assert [(order["orderId"], order["status"]) for order in listed] == [(str(staying.pk), "pending")]


def test_an_unknown_order_is_a_404(db, client):
    response = client.get("/orders/00000000-0000-0000-0000-000000000000")

    assert response.status_code == 404


def test_cancelling_from_the_order_page_reads_the_steps_only_to_show_a_refusal(market, no_engine, client):
    order, _ = services.order_place(amount=Decimal("0.05"), token_in="SOL", token_out="USDC")

    with CaptureQueriesContext(connection) as captured:
        cancelled = client.post(f"/orders/{order.pk}/cancel")

    assert cancelled.status_code == 302
    assert reads_of(captured, "orders_orderevent") == [], "a cancel that succeeds shows no page"

    with CaptureQueriesContext(connection) as captured:
        refused = client.post(f"/orders/{order.pk}/cancel")

    assert refused.status_code == 409
    assert "The order is cancelled" in refused.content.decode()
    assert_one_history_read_with_its_orders(captured)
