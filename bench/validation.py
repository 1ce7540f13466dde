"""What validating one order request costs: `python -m bench.validation`.

Times OrderRequestSerializer(data=...).is_valid() on a market order's body,
in one process, with the engine's fields (shallow copies per request) and
with DRF's default get_fields() (a deep copy of every declared field per
request), and prints microseconds per request for each as a table and JSON.
"""

import argparse
import json
import os
import sys
import timeit

BODY = {"amount": "0.05", "tokenIn": "SOL", "tokenOut": "USDC"}


def per_request_us(serializer_class, *, number: int, repeat: int) -> float:
    def validate():
        serializer = serializer_class(data=BODY)
        if not serializer.is_valid():
            raise AssertionError(serializer.errors)

    return min(timeit.repeat(validate, number=number, repeat=repeat)) / number * 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.validation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=3000, help="validations per timing (default 3000)")
    parser.add_argument("--repeat", type=int, default=5, help="timings; the best is kept (default 5)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from rest_framework import serializers

    from orders.api.validation import OrderRequestSerializer

    class DeepCopiedFields(OrderRequestSerializer):
        get_fields = serializers.Serializer.get_fields

    figures = {
        "engine_us": round(per_request_us(OrderRequestSerializer, number=args.number, repeat=args.repeat), 1),
        "drf_default_us": round(per_request_us(DeepCopiedFields, number=args.number, repeat=args.repeat), 1),
    }
    print(f"{'fields':24} {'us per request':>14}")
    print(f"{'shallow copy (engine)':24} {figures['engine_us']:14.1f}")
    print(f"{'deep copy (DRF default)':24} {figures['drf_default_us']:14.1f}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
