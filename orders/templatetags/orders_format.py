"""Number formatting for the dashboard, matching fmtAmount() in app.js."""

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def amount(value, places: int = 6):
    """Thousands separators; at most `places` decimals, or 6 significant
    digits for numbers below 1 (BONK prices in SOL are tiny)."""
    if value is None or value == "":
        return "—"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return value
    if number != 0 and abs(number) < 1:
        digits = max(0, 6 - number.adjusted() - 1)
        text = f"{number:.{digits}f}"
    else:
        text = f"{number:,.{int(places)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


@register.filter
def duration(ms):
    if ms is None:
        return ""
    ms = int(ms)
    if ms < 1000:
        return f"{ms} ms"
    if ms < 59_995:  # from there, 2 places would read "60.00 s"
        return f"{ms / 1000:.2f} s"
    # Whole seconds, rounded before they are split: 119,600 ms is 2 min 0 s, not 1 min 60 s.
    seconds = (ms + 500) // 1000
    return f"{seconds // 60} min {seconds % 60} s"


@register.filter
def bps_pct(bps):
    """Basis points as a percentage: 50 -> 0.50%."""
    if bps is None or bps == "":
        return "—"
    return f"{Decimal(bps) / 100:.2f}%"


@register.filter
def middle_truncate(text, keep: int = 8):
    if not text:
        return "—"
    text = str(text)
    keep = int(keep)
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-keep:]}"


@register.filter
def price(value):
    """A market price to 6 significant digits (143.987, 7,620,000, 0.000512),
    matching fmtPrice() in app.js: enough to see a distance move."""
    if value is None or value == "":
        return "—"
    number = Decimal(str(value))
    if number == 0 or abs(number) < 1:
        return amount(number)
    places = max(0, 6 - number.adjusted() - 1)
    return amount(round(number, places), places)
