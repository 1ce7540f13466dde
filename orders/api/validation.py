"""Validating order requests. Each error names the field it concerns."""

import copy
import re
from decimal import Decimal, InvalidOperation

from django.conf import settings
from rest_framework import serializers

from orders.models import OrderType
from orders.serializers import EXACT
from routing.launch import QUOTE_TOKEN
from routing.market import pools_for_pair, token_trades
from routing.tokens import resolve_token

ORDER_FIELDS = {
    "amount",
    "tokenIn",
    "tokenOut",
    "slippageBps",
    "type",
    "limitPrice",
    "maxPrice",
    "expiresInSeconds",
}
# Which trigger fields each order type takes; the others are refused.
TRIGGER_FIELDS = {
    OrderType.MARKET: set(),
    OrderType.LIMIT: {"limitPrice", "expiresInSeconds"},
    OrderType.SNIPER: {"maxPrice", "expiresInSeconds"},
}
MAX_EXPIRY_SECONDS = 30 * 24 * 3600
MAX_SLIPPAGE_BPS = 10_000  # 100 %
# Prices are stored to 18 decimal places (orders.models.AMOUNT): a finer one
# would be stored rounded, a tiny sniper's maximum price to 0.
PRICE_PLACES = 18


def _may_ever_trade(token_in, token_out) -> bool:
    """A pool trades the pair, or may: a token not launched yet gets its
    first pool against QUOTE_TOKEN (routing.launch)."""
    if pools_for_pair(token_in, token_out):
        return True
    symbols = {token_in.symbol, token_out.symbol}
    if QUOTE_TOKEN not in symbols:
        return False
    other = token_out if token_in.symbol == QUOTE_TOKEN else token_in
    return not token_trades(other)


def _printable(name: str) -> str:
    """A client's field name as the answer can carry it: a lone surrogate
    (JSON allows "\\ud800") cannot be written as UTF-8, and gave a 500."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


# What a decimal string may look like. Decimal() itself also takes "1_5"
# (15) and digits of other scripts ("１.５"), which no trader means.
DECIMAL_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity|s?nan)", re.ASCII | re.I)


class AmountField(serializers.Field):
    """A positive decimal number or decimal string, never a float's rounding."""

    default_error_messages = {
        "invalid": 'must be a decimal number or a decimal string, like 1.5 or "1.5"',
        "not_finite": "must be a finite number",
        "not_positive": "must be greater than 0",
        "too_large": "must be at most {maximum}",
        "too_precise": "must have at most {places} decimal places",
    }

    def __init__(self, *, maximum: Decimal | None = None, places: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.maximum = maximum
        self.places = places

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float, Decimal, str)):
            self.fail("invalid")
        text = data.strip() if isinstance(data, str) else str(data)
        if isinstance(data, str) and not DECIMAL_TEXT.fullmatch(text):
            self.fail("invalid")
        try:
            value = Decimal(text)
        except InvalidOperation:
            self.fail("invalid")
        if not value.is_finite():
            self.fail("not_finite")
        if value <= 0:
            self.fail("not_positive")
        if self.maximum is not None and value > self.maximum:
            self.fail("too_large", maximum=self.maximum)
        if self.places is not None and value.as_tuple().exponent < -self.places:
            # Trailing zeros are no extra precision: 1.50000000000000000000 is 1.5.
            if value != value.quantize(Decimal(1).scaleb(-self.places), context=EXACT):
                self.fail("too_precise", places=self.places)
        return value

    def to_representation(self, value):
        return str(value)


class TokenField(serializers.Field):
    default_error_messages = {
        "invalid": "must be a token symbol or mint address string",
        "unknown": "unknown token {value!r}; known tokens are {known}",
    }

    def to_internal_value(self, data):
        if not isinstance(data, str) or not data.strip():
            self.fail("invalid")
        token = resolve_token(data.strip())
        if token is None:
            from routing.tokens import TOKENS

            self.fail("unknown", value=data[:64], known=", ".join(TOKENS))
        return token

    def to_representation(self, value):
        return value.symbol


class StrictIntegerField(serializers.IntegerField):
    """An integer as JSON writes it: no booleans, strings or fractions."""

    def to_internal_value(self, data):
        # The parser reads every JSON number with a point or an exponent as a
        # Decimal: 50.0, as many JSON writers put an integer, is 50.
        if isinstance(data, bool) or not isinstance(data, (int, float, Decimal)):
            self.fail("invalid")
        if isinstance(data, Decimal) and not (data.is_finite() and data == data.to_integral_value()):
            self.fail("invalid")
        if isinstance(data, float) and not data.is_integer():
            self.fail("invalid")
        if isinstance(data, Decimal) and data.adjusted() > 18:  # int() of 1e999999 would take a while
            if data < 0:
                self.fail("min_value", min_value=self.min_value)
            self.fail("max_value", max_value=self.max_value)
        return super().to_internal_value(int(data))


class OrderRequestSerializer(serializers.Serializer):
    amount = AmountField(maximum=settings.MAX_ORDER_AMOUNT)
    limitPrice = AmountField(required=False, maximum=Decimal(10) ** 15, places=PRICE_PLACES)
    maxPrice = AmountField(required=False, maximum=Decimal(10) ** 15, places=PRICE_PLACES)
    expiresInSeconds = StrictIntegerField(required=False, min_value=1, max_value=MAX_EXPIRY_SECONDS)
    tokenIn = TokenField(required=False, default=None)
    tokenOut = TokenField(required=False, default=None)
    slippageBps = StrictIntegerField(required=False, default=50, min_value=0, max_value=MAX_SLIPPAGE_BPS)
    type = serializers.CharField(required=False, default=OrderType.MARKET)

    def get_fields(self):
        # DRF deep-copies the declared fields for every serializer, so for
        # every order, and a field's deep copy runs its __init__ again: 40 %
        # of this serializer's validation time (python -m bench.validation). These
        # fields keep nothing between calls, so a shallow copy, which bind()
        # then names and parents, is as safe.
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ['The request body must be a JSON object, like {"amount": "1.5"}.']}
            )
        unknown = sorted(set(data) - ORDER_FIELDS)
        if unknown:
            raise serializers.ValidationError(
                {_printable(name[:64]): ["is not a field of an order"] for name in unknown[:10]}
            )
        return super().to_internal_value(data)

    def validate_type(self, value):
        if value not in OrderType.values:
            raise serializers.ValidationError(
                f"order type {value[:32]!r} is not supported; supported types: {', '.join(OrderType.values)}"
            )
        return value

    def validate(self, attrs):
        token_in = attrs["tokenIn"] or resolve_token("SOL")
        token_out = attrs["tokenOut"] or resolve_token("USDC")
        if token_in == token_out:
            raise serializers.ValidationError({"tokenOut": ["must differ from tokenIn"]})
        amount = attrs["amount"]
        if -amount.as_tuple().exponent > token_in.decimals and amount != amount.quantize(
            Decimal(1).scaleb(-token_in.decimals)
        ):
            raise serializers.ValidationError(
                {"amount": [f"has more decimals than {token_in.symbol} has ({token_in.decimals})"]}
            )
        attrs["tokenIn"], attrs["tokenOut"] = token_in, token_out
        self._validate_trigger(attrs)
        return attrs

    def _validate_trigger(self, attrs) -> None:
        order_type = attrs["type"]
        pay, get = attrs["tokenIn"].symbol, attrs["tokenOut"].symbol
        given = {name for name in ("limitPrice", "maxPrice", "expiresInSeconds") if name in attrs}
        for name in sorted(given - TRIGGER_FIELDS[order_type]):
            raise serializers.ValidationError({name: [f"is not a field of {order_type} orders"]})
        if order_type == OrderType.LIMIT and "limitPrice" not in attrs:
            why = f"is required for limit orders: the worst price, in {get} per {pay}"
            raise serializers.ValidationError({"limitPrice": [why]})
        # What the market is now decides whether an order may be placed, not
        # whether a request sent again is the one that was.
        market_now = not self.context.get("replay")
        if (
            market_now
            and order_type == OrderType.LIMIT
            and not _may_ever_trade(attrs["tokenIn"], attrs["tokenOut"])
        ):
            # Else it would wait out its expiry for a price no pool quotes:
            # routes do not go through a third token.
            why = f"no pool trades {pay} for {get}: a limit order needs one whose price it can watch"
            raise serializers.ValidationError({"tokenOut": [why]})
        if order_type == OrderType.SNIPER:
            if "maxPrice" not in attrs:
                why = f"is required for sniper orders: the most to pay, in {pay} per {get}"
                raise serializers.ValidationError({"maxPrice": [why]})
            if market_now and token_trades(attrs["tokenOut"]):
                why = f"{get} already trades; place a market or limit order"
                raise serializers.ValidationError({"tokenOut": [why]})
            if pay != QUOTE_TOKEN:
                # Else it would wait out its expiry: the pair it watches never opens.
                why = (
                    f"must be {QUOTE_TOKEN} for sniper orders: a new token first trades against {QUOTE_TOKEN}"
                )
                raise serializers.ValidationError({"tokenIn": [why]})
        if order_type != OrderType.MARKET:
            attrs.setdefault("expiresInSeconds", settings.DEFAULT_ORDER_EXPIRY_SECONDS)
