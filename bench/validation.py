"""What validating one order request costs: `python -m bench.validation`.

Times OrderRequestSerializer(data=...).is_valid() on a market order's body,
in one process, with the engine's fields (shallow copies per request) and
with DRF's default get_fields() (a deep copy of every declared field per
request), and prints microseconds per request for each as a table and JSON.
"""

import sys
import timeit

from bench.inprocess import report, start

BODY = {"amount": "0.05", "tokenIn": "SOL", "tokenOut": "USDC"}


def per_request_us(serializer_class, *, number: int, repeat: int) -> float:
    def validate():
        serializer = serializer_class(data=BODY)
        if not serializer.is_valid():
            raise AssertionError(serializer.errors)

    return min(timeit.repeat(validate, number=number, repeat=repeat)) / number * 1e6


def main(argv=None) -> int:
    args = start("python -m bench.validation", __doc__, argv, timed="validations")
    from rest_framework import serializers

    from orders.api.validation import OrderRequestSerializer

    class DeepCopiedFields(OrderRequestSerializer):
        get_fields = serializers.Serializer.get_fields

    figures = {
        "engine_us": round(per_request_us(OrderRequestSerializer, number=args.number, repeat=args.repeat), 1),
        "drf_default_us": round(per_request_us(DeepCopiedFields, number=args.number, repeat=args.repeat), 1),
    }
    report(
        "us per request",
        figures,
        {"engine_us": "shallow copy (engine)", "drf_default_us": "deep copy (DRF default)"},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
