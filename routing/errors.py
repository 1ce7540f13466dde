"""Errors the market raises. `code` is the order's machine-readable errorCode."""


class RoutingError(Exception):
    code = "routing_error"
    # Transient errors are worth another attempt; permanent ones are not.
    transient = False


class DexUnavailable(RoutingError):
    code = "dex_unavailable"
    transient = True


class NoRoute(RoutingError):
    code = "no_route"


class InvalidPair(RoutingError):
    code = "invalid_pair"


class SlippageExceeded(RoutingError):
    code = "slippage_exceeded"


class InsufficientLiquidity(NoRoute):
    """A pool cannot fill the whole amount (a DLMM pool ran out of bins)."""
