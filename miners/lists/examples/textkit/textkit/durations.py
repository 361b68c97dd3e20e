"""Human-readable durations."""

import re

UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)\s*([dhms])")


def parse_duration(text):
    """Parse a duration such as '1h 30m' or '2d4h' into a number of seconds.

    Units are d, h, m and s; parts may repeat and appear in any order.
    Raises ValueError when the text holds no duration at all.
    """
    parts = _PART.findall(text.lower())
    if not parts:
        raise ValueError("no duration in %r" % (text,))
    return sum(int(amount) * UNITS[unit] for amount, unit in parts)


def format_duration(seconds):
    """Write a number of seconds as the shortest duration string, e.g. 5400 -> '1h30m'.

    Zero is written '0s'.
    """
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in UNITS.items():
        amount, seconds = divmod(seconds, size)
        if amount:
            out.append("%d%s" % (amount, unit))
    return "".join(out)
