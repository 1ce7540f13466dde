import json
from decimal import Decimal

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

TOO_DEEP = "JSON nested too deeply: an order is one flat object"


def _reject_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


class DecimalJSONParser(JSONParser):
    """JSON with numbers read as Decimal: "amount": 0.1 stays exactly 0.1."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            return json.loads(
                stream.read().decode(encoding), parse_float=Decimal, parse_constant=_reject_constant
            )
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(str(exc)) from None
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
