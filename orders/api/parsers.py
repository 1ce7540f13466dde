import json
from decimal import Decimal

from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import JSONParser


def _reject_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def loads_order(text: str | bytes):
    """An order request's JSON, over REST or the placement socket: numbers
    read as Decimal ("amount": 0.1 stays exactly 0.1), NaN and Infinity
    refused. ValueError (UnicodeDecodeError is one) for anything else."""
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply: an order is one flat object") from None


class UnreadableCharset(UnsupportedMediaType):
    """A Content-Type charset Python knows as a codec but not as a text
    encoding (rot13, hex, zlib): Django lets it through to the parser."""


class DecimalJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            return loads_order(stream.read().decode(encoding))
        except LookupError:
            message = f"The request body's charset {encoding!r} is not a text encoding; send UTF-8."
            raise UnreadableCharset(media_type, detail=message) from None
        except ValueError as exc:
            raise ParseError(str(exc)) from None
