"""The OpenAPI description of the REST API (drf-spectacular).

The API views build their answers as plain dicts (orders/serializers.py), so
drf-spectacular cannot guess their shape. The serializers below exist only to
describe the wire format: nothing validates or renders with them. Each view
method carries one of the `extend_schema` decorators defined at the bottom,
so the description sits next to the code and a route without one shows up as
a warning in `manage.py spectacular --validate --fail-on-warn`.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers

from orders.api.auth import NOT_THE_OWNER
from orders.api.errors import MAX_BODY_BYTES
from orders.api.validation import MAX_EXPIRY_SECONDS, MAX_SLIPPAGE_BPS
from orders.models import OrderStatus, OrderType

TYPES = ", ".join(OrderType.values)

DEXES = ["raydium", "meteora", "split"]
ORDER_ID_EXAMPLE = "5f0c2a8e-9a51-4b9e-8f57-3c1f0e0d4b7a"
TX_HASH_EXAMPLE = "4sGjMW1sUnHzSxGspuhpqLDx6wiyjNtZAMdL4VZHirAn4nB1ErjzdZ3N8hZt9pJ4v1oXoYgM6cuTfxGqJxqRQyQe"


# --- Errors ------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="One human-readable sentence.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Present when the error is about input: the reasons, per field.",
    )
    errorCode = serializers.CharField(
        required=False, help_text="Machine-readable reason, where there is one (quotes: `no_route`, ...)."
    )

    class Meta:
        ref_name = "Error"


def _error(description: str, *examples: tuple[str, dict]) -> OpenApiResponse:
    return OpenApiResponse(
        ErrorSerializer,
        description=description,
        examples=[OpenApiExample(name, value=value, response_only=True) for name, value in examples],
    )


NEGATIVE_AMOUNT = (
    "Negative amount",
    {"error": "Invalid amount: must be greater than 0", "fields": {"amount": ["must be greater than 0"]}},
)
BAD_INPUT = _error(
    "The input is invalid; `fields` names each field and why.",
    NEGATIVE_AMOUNT,
    (
        "Unsupported order type",
        {
            "error": f"Invalid type: order type 'twap' is not supported; supported types: {TYPES}",
            "fields": {"type": [f"order type 'twap' is not supported; supported types: {TYPES}"]},
        },
    ),
)
BAD_KEY_EXAMPLES = (
    ("Not a bearer key", {"error": "The Authorization header must be 'Bearer <API key>'."}),
    ("Unknown key", {"error": "This API key is unknown or revoked."}),
)
UNAUTHENTICATED = _error(
    "With API_KEYS_REQUIRED on: no API key. Always: an Authorization header that is not "
    "'Bearer <key>', or names an unknown or revoked key.",
    (
        "No key",
        {
            "error": "Placing orders needs an API key: send 'Authorization: Bearer <key>', "
            "or log in to the dashboard."
        },
    ),
    *BAD_KEY_EXAMPLES,
)
BAD_KEY = _error(
    "An Authorization header that is not 'Bearer <key>', or names an unknown or revoked key. "
    "Reading needs no key: leave the header out.",
    *BAD_KEY_EXAMPLES,
)
FORBIDDEN = _error(
    "A logged-in dashboard session without a valid CSRF token.",
    ("CSRF", {"error": "CSRF Failed: CSRF token missing."}),
)
NOT_FOUND = _error(
    "No order with this id.", ("Unknown order", {"error": "No Order matches the given query."})
)
NOT_ALLOWED = _error(
    "The method is not allowed on this path.",
    ("Wrong method", {"error": "Method DELETE is not allowed here."}),
)
CONFLICT = _error(
    "The Idempotency-Key was already used with a different request body, or by another client "
    "(another API key or user).",
    ("Key reused", {"error": "this Idempotency-Key was already used with a different request"}),
    ("Another client's key", {"error": "this Idempotency-Key was already used by another client"}),
)
TOO_LARGE = _error(
    f"The request body is larger than {MAX_BODY_BYTES} bytes.",
    ("Body too large", {"error": f"The request body is larger than {MAX_BODY_BYTES} bytes."}),
)
NOT_JSON = _error(
    "The request body is not JSON.",
    ("Form body", {"error": "The request body must be JSON (Content-Type: application/json)."}),
)
BAD_QUOTE = _error("The input is invalid; `fields` names each field and why.", NEGATIVE_AMOUNT)
BAD_LIST_FILTER = _error(
    "The filter is invalid; `fields` names it and why.",
    (
        "Unknown status",
        {
            "error": f"Invalid status: must be one of {', '.join(OrderStatus.values)}",
            "fields": {"status": [f"must be one of {', '.join(OrderStatus.values)}"]},
        },
    ),
)
QUOTES_THROTTLED = _error(
    "More than QUOTE_RATE_LIMIT_PER_MINUTE quotes from this client in a minute.",
    ("Rate limited", {"error": "Too many quotes; try again in 12 seconds."}),
)
THROTTLED = _error(
    "More than RATE_LIMIT_PER_MINUTE placements from this client in a minute.",
    ("Rate limited", {"error": "Too many orders; try again in 12 seconds."}),
)
DATABASE_DOWN = (
    "Database down",
    {"error": "The database is not answering (OperationalError); try again shortly."},
)
UNAVAILABLE = _error(
    "The database is down, unreachable or too busy; retry after `Retry-After` seconds.", DATABASE_DOWN
)
BUSY = _error(
    "The backlog of pending orders is full (MAX_PENDING_ORDERS), or the database is down, "
    "unreachable or too busy; retry after `Retry-After` seconds.",
    ("Backlog full", {"error": "The engine has 10000 orders waiting; try again shortly."}),
    DATABASE_DOWN,
)


# --- Orders ------------------------------------------------------------------


class OrderRequestSchema(serializers.Serializer):
    amount = serializers.CharField(
        help_text="Units of tokenIn, > 0, as a decimal string or a JSON number; "
        "no more decimals than the token has; at most MAX_ORDER_AMOUNT (1,000,000,000 unless configured)."
    )
    tokenIn = serializers.CharField(
        required=False, default="SOL", help_text="Symbol or mint address; SOL for sniper orders."
    )
    tokenOut = serializers.CharField(required=False, default="USDC", help_text="Symbol or mint address.")
    slippageBps = serializers.IntegerField(
        required=False, default=50, min_value=0, max_value=MAX_SLIPPAGE_BPS
    )
    type = serializers.ChoiceField(choices=OrderType.choices, required=False, default=OrderType.MARKET)
    limitPrice = serializers.CharField(
        required=False,
        help_text="Limit orders (required): the worst price accepted, in tokenOut per tokenIn;"
        " at most 18 decimal places.",
    )
    maxPrice = serializers.CharField(
        required=False,
        help_text="Sniper orders (required): the most paid per token, in tokenIn per tokenOut;"
        " at most 18 decimal places.",
    )
    expiresInSeconds = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_EXPIRY_SECONDS,
        help_text="Limit and sniper orders: how long to wait for the trigger (default 3600).",
    )

    class Meta:
        ref_name = "OrderRequest"


class OrderAcceptedSerializer(serializers.Serializer):
    orderId = serializers.UUIDField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    wsUrl = serializers.CharField(help_text="Where to watch the order: ws(s)://<host>/ws/orders/<orderId>.")

    class Meta:
        ref_name = "OrderAccepted"


class QuoteSerializer(serializers.Serializer):
    dex = serializers.CharField()
    amountOut = serializers.CharField(help_text="Decimal string, units of tokenOut.")
    priceImpactBps = serializers.IntegerField()
    feeBps = serializers.IntegerField()

    class Meta:
        ref_name = "DexQuote"


class RouteLegSerializer(serializers.Serializer):
    dex = serializers.CharField()
    amountIn = serializers.CharField(help_text="Decimal string, units of tokenIn.")
    amountOut = serializers.CharField(help_text="Decimal string, units of tokenOut.")
    shareBps = serializers.IntegerField()
    poolId = serializers.IntegerField(allow_null=True, required=False)

    class Meta:
        ref_name = "RouteLeg"


class HistoryEntrySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    at = serializers.DateTimeField()
    attempt = serializers.IntegerField()

    class Meta:
        ref_name = "HistoryEntry"


class OrderSerializer(serializers.Serializer):
    orderId = serializers.UUIDField()
    type = serializers.ChoiceField(choices=OrderType.choices)
    tokenIn = serializers.CharField()
    tokenOut = serializers.CharField()
    amount = serializers.CharField(help_text="Decimal string.")
    slippageBps = serializers.IntegerField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    dex = serializers.ChoiceField(choices=DEXES, allow_null=True)
    quotes = QuoteSerializer(many=True, help_text="One per DEX, from `building` on.")
    route = RouteLegSerializer(many=True, allow_null=True)
    expectedAmountOut = serializers.CharField(allow_null=True)
    minAmountOut = serializers.CharField(allow_null=True)
    amountOut = serializers.CharField(allow_null=True)
    executedPrice = serializers.CharField(
        allow_null=True,
        help_text="amountOut / amount: tokenOut per tokenIn, as limitPrice (the inverse of a sniper's "
        "maxPrice), rounded down to 18 decimal places.",
    )
    txHash = serializers.CharField(allow_null=True, help_text="Base58, 86 to 88 characters.")
    attempt = serializers.IntegerField()
    error = serializers.CharField(allow_null=True)
    errorCode = serializers.CharField(allow_null=True)
    limitPrice = serializers.CharField(allow_null=True, help_text="Limit orders: tokenOut per tokenIn.")
    maxPrice = serializers.CharField(allow_null=True, help_text="Sniper orders: tokenIn per tokenOut.")
    expiresAt = serializers.DateTimeField(allow_null=True, help_text="When a waiting order expires.")
    triggeredAt = serializers.DateTimeField(
        allow_null=True, help_text="When a waiting order's trigger fired."
    )
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()
    history = HistoryEntrySerializer(many=True)

    class Meta:
        ref_name = "Order"


class OrderPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = OrderSerializer(many=True)

    class Meta:
        ref_name = "OrderPage"


CONFIRMED_ORDER = {
    "orderId": ORDER_ID_EXAMPLE,
    "type": "market",
    "tokenIn": "SOL",
    "tokenOut": "USDC",
    "amount": "1.5",
    "slippageBps": 50,
    "status": "confirmed",
    "dex": "meteora",
    "quotes": [
        {"dex": "raydium", "amountOut": "224.431903", "feeBps": 25, "priceImpactBps": 0},
        {"dex": "meteora", "amountOut": "225.690875", "feeBps": 10, "priceImpactBps": 0},
    ],
    "route": [
        {"dex": "meteora", "amountIn": "1.5", "amountOut": "225.690875", "shareBps": 10000, "poolId": 2}
    ],
    "expectedAmountOut": "225.690875",
    "minAmountOut": "224.56242",
    "amountOut": "225.690875",
    "executedPrice": "150.460583",
    "txHash": TX_HASH_EXAMPLE,
    "attempt": 1,
    "error": None,
    "errorCode": None,
    "limitPrice": None,
    "maxPrice": None,
    "expiresAt": None,
    "triggeredAt": None,
    "createdAt": "2026-01-05T12:00:00.000000Z",
    "updatedAt": "2026-01-05T12:00:02.912000Z",
    "history": [
        {"status": "pending", "at": "2026-01-05T12:00:00.000000Z", "attempt": 1},
        {"status": "routing", "at": "2026-01-05T12:00:00.010000Z", "attempt": 1},
        {"status": "building", "at": "2026-01-05T12:00:00.230000Z", "attempt": 1},
        {"status": "submitted", "at": "2026-01-05T12:00:00.240000Z", "attempt": 1},
        {"status": "confirmed", "at": "2026-01-05T12:00:02.912000Z", "attempt": 1},
    ],
}


# --- Quote and health -------------------------------------------------------


class SplitLegSerializer(serializers.Serializer):
    dex = serializers.CharField()
    amountIn = serializers.CharField(help_text="Decimal string, units of tokenIn.")
    amountOut = serializers.CharField(help_text="Decimal string, units of tokenOut.")
    shareBps = serializers.IntegerField()

    class Meta:
        ref_name = "SplitLeg"


class BestRouteSerializer(serializers.Serializer):
    dex = serializers.ChoiceField(choices=DEXES)
    amountOut = serializers.CharField()
    split = SplitLegSerializer(many=True)

    class Meta:
        ref_name = "BestRoute"


class QuoteResponseSerializer(serializers.Serializer):
    tokenIn = serializers.CharField()
    tokenOut = serializers.CharField()
    amount = serializers.CharField()
    quotes = QuoteSerializer(many=True)
    best = BestRouteSerializer()

    class Meta:
        ref_name = "QuoteResponse"


class HealthSerializer(serializers.Serializer):
    database = serializers.CharField(help_text='"ok", or "down: <reason>".')
    redis = serializers.CharField(help_text='"ok", or "down: <reason>".')
    workers = serializers.IntegerField(
        help_text="rq workers listening on the orders queue; with none, the answer is 503."
    )
    clock = serializers.CharField(
        required=False,
        help_text='"ok", or "down: <reason>": the engine clock, which releases timers '
        "(quotes, settlements, retries); absent when Redis is down.",
    )
    error = serializers.CharField(required=False, help_text="Present when unhealthy: what is down.")

    class Meta:
        ref_name = "Health"


# --- The decorators, one per view method ----------------------------------------

execute_order = extend_schema(
    operation_id="orders_execute",
    summary="Place an order",
    description="Stores a market order as `pending` and queues it; a limit or sniper order is stored "
    "`waiting`, armed for its trigger, and the answer says so. Watch it on `wsUrl`, or poll "
    "`GET /api/orders/{orderId}`. The same path speaks WebSocket: send the order as the first message.",
    tags=["orders"],
    request=OrderRequestSchema,
    parameters=[
        OpenApiParameter(
            "Idempotency-Key",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            description="At most 255 characters. The same key with the same body returns the same order.",
        )
    ],
    responses={
        202: OrderAcceptedSerializer,
        400: BAD_INPUT,
        401: UNAUTHENTICATED,
        403: FORBIDDEN,
        405: NOT_ALLOWED,
        409: CONFLICT,
        413: TOO_LARGE,
        415: NOT_JSON,
        429: THROTTLED,
        503: BUSY,
    },
    examples=[
        OpenApiExample("Minimal", value={"amount": 100}, request_only=True),
        OpenApiExample(
            "Everything",
            value={
                "amount": "1.5",
                "tokenIn": "SOL",
                "tokenOut": "USDC",
                "slippageBps": 50,
                "type": "market",
            },
            request_only=True,
        ),
        OpenApiExample(
            "Accepted",
            value={
                "orderId": ORDER_ID_EXAMPLE,
                "status": "pending",
                "wsUrl": f"ws://127.0.0.1:8000/ws/orders/{ORDER_ID_EXAMPLE}",
            },
            response_only=True,
            status_codes=["202"],
        ),
    ],
)

order_detail = extend_schema(
    operation_id="orders_retrieve",
    summary="One order, with its history",
    tags=["orders"],
    responses={200: OrderSerializer, 401: BAD_KEY, 404: NOT_FOUND, 405: NOT_ALLOWED, 503: UNAVAILABLE},
    examples=[OpenApiExample("Confirmed", value=CONFIRMED_ORDER, response_only=True, status_codes=["200"])],
)

cancel_order = extend_schema(
    operation_id="orders_cancel",
    summary="Cancel an order that has not started routing",
    description="Moves a `pending` or `waiting` order to `cancelled` and answers with the order; "
    "an order that has started routing (or ended) answers 409. An order placed with an API key, or "
    "by a logged-in user, only they or an operator may cancel (403 for anyone else).",
    tags=["orders"],
    request=None,
    responses={
        200: OrderSerializer,
        401: UNAUTHENTICATED,
        403: _error(
            "The order was placed with another API key or by another user, and the caller is not "
            "an operator; or a logged-in dashboard session without a valid CSRF token.",
            ("Not the owner", {"error": NOT_THE_OWNER}),
            ("CSRF", {"error": "CSRF Failed: CSRF token missing."}),
        ),
        404: NOT_FOUND,
        405: NOT_ALLOWED,
        409: _error(
            "The order has started routing, or has ended, and can no longer be cancelled.",
            (
                "Too late",
                {"error": "The order is submitted: only pending or waiting orders can be cancelled."},
            ),
        ),
        503: UNAVAILABLE,
    },
)

order_list = extend_schema(
    operation_id="orders_list",
    summary="Orders, newest first",
    description="Cursor-paginated: follow `next` until it is null.",
    tags=["orders"],
    parameters=[
        OpenApiParameter(
            "status", OpenApiTypes.STR, enum=OrderStatus.values, description="Only this status."
        ),
        OpenApiParameter("limit", OpenApiTypes.INT, description="Page size, at most 200 (default 50)."),
        OpenApiParameter(
            "cursor", OpenApiTypes.STR, description="From a previous page's `next` or `previous`."
        ),
    ],
    responses={
        200: OrderPageSerializer,
        400: BAD_LIST_FILTER,
        401: BAD_KEY,
        404: _error("The cursor is not valid.", ("Bad cursor", {"error": "Invalid cursor"})),
        405: NOT_ALLOWED,
        503: UNAVAILABLE,
    },
    examples=[
        OpenApiExample(
            "One page",
            value={"next": None, "previous": None, "results": [CONFIRMED_ORDER]},
            response_only=True,
            status_codes=["200"],
        )
    ],
)

quote = extend_schema(
    operation_id="quote",
    summary="What the router would do now",
    description="Quotes every DEX and picks the best route (possibly a split) without placing an order.",
    tags=["market"],
    parameters=[
        OpenApiParameter("amount", OpenApiTypes.STR, required=True, description="Units of tokenIn, > 0."),
        OpenApiParameter("tokenIn", OpenApiTypes.STR, description="Default SOL."),
        OpenApiParameter("tokenOut", OpenApiTypes.STR, description="Default USDC."),
    ],
    responses={
        200: QuoteResponseSerializer,
        400: BAD_QUOTE,
        401: BAD_KEY,
        405: NOT_ALLOWED,
        422: _error(
            "No route for this pair or amount.",
            (
                "No route",
                {"error": "no pool trades USDT/BONK on Raydium or Meteora", "errorCode": "no_route"},
            ),
        ),
        429: QUOTES_THROTTLED,
        503: _error(
            "A DEX did not answer; ask again after `Retry-After` seconds.",
            ("DEX down", {"error": "raydium is unavailable", "errorCode": "dex_unavailable"}),
        ),
    },
    examples=[
        OpenApiExample(
            "Best of two",
            value={
                "tokenIn": "SOL",
                "tokenOut": "USDC",
                "amount": "1.5",
                "quotes": CONFIRMED_ORDER["quotes"],
                "best": {
                    "dex": "meteora",
                    "amountOut": "225.690875",
                    "split": [
                        {"dex": "meteora", "amountIn": "1.5", "amountOut": "225.690875", "shareBps": 10000}
                    ],
                },
            },
            response_only=True,
            status_codes=["200"],
        )
    ],
)

health = extend_schema(
    operation_id="health",
    summary="Is the engine up?",
    tags=["operations"],
    responses={
        200: HealthSerializer,
        401: BAD_KEY,
        405: NOT_ALLOWED,
        503: OpenApiResponse(HealthSerializer, description="Something is down; `error` names it."),
    },
    examples=[
        OpenApiExample(
            "Healthy",
            value={"database": "ok", "redis": "ok", "workers": 2, "clock": "ok"},
            response_only=True,
            status_codes=["200"],
        ),
        OpenApiExample(
            "Redis down",
            value={
                "database": "ok",
                "redis": "down: ConnectionError",
                "workers": 0,
                "error": "Not healthy: redis unavailable.",
            },
            response_only=True,
            status_codes=["503"],
        ),
        OpenApiExample(
            "No worker",
            value={
                "database": "ok",
                "redis": "ok",
                "workers": 0,
                "clock": "ok",
                "error": "Not healthy: workers (none registered) unavailable.",
            },
            response_only=True,
            status_codes=["503"],
        ),
    ],
)


def camel_case_path_parameters(result, generator, request, public):
    """Postprocessing hook: the URL pattern names its parameter `order_id`; on
    the wire everything is camelCase, as CONTRACT.md writes `{orderId}`."""
    paths = {}
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter["name"] == "order_id":
                    parameter["name"] = "orderId"
        paths[path.replace("{order_id}", "{orderId}")] = operations
    result["paths"] = paths
    return result
