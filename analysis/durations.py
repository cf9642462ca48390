"""Durations as people write them in a Canary ("30s", "1m", "1h30m", "500ms").

The CRD stores durations as strings so that the OpenAPI schema stays a plain string with
a pattern and so that the same text can be pasted into PromQL range selectors, which use
the same units. This module is the one place that parses and formats them; it is pure.
"""

from __future__ import annotations

import datetime
import functools
import re

#: The JSON-schema pattern the CRD enforces: one or more ``<int><unit>`` groups, largest
#: unit first is not required by Prometheus, so it is not required here either.
DURATION_PATTERN = r"^([0-9]+(ms|s|m|h|d))+$"

_PART = re.compile(r"([0-9]+)(ms|s|m|h|d)")
_WHOLE = re.compile(DURATION_PATTERN)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@functools.lru_cache(maxsize=1024)  # pure, and asked for the same few texts at every decision
def parse_duration(text: str) -> datetime.timedelta:
    """Parse ``text`` into a timedelta; raise ValueError on anything else or on zero."""
    if not isinstance(text, str) or not _WHOLE.match(text):
        raise ValueError(f"invalid duration {text!r}: expected e.g. '30s', '1m', '1h30m', '500ms'")
    seconds = sum(int(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(text))
    if seconds <= 0:
        # A zero window or interval would make every rate() empty: reject it at admission.
        raise ValueError(f"invalid duration {text!r}: must be greater than zero")
    return datetime.timedelta(seconds=seconds)


def validate_duration(text: str) -> str:
    """Pydantic validator: keep the original text, fail early if it does not parse."""
    parse_duration(text)
    return text


def seconds(text: str) -> float:
    """The duration in seconds as a float."""
    return parse_duration(text).total_seconds()


def format_duration(value: datetime.timedelta | float) -> str:
    """Format seconds (or a timedelta) the way PromQL range selectors accept them."""
    total = value.total_seconds() if isinstance(value, datetime.timedelta) else float(value)
    millis = round(total * 1000)
    if millis <= 0:
        raise ValueError(f"cannot format non-positive duration {total!r}")
    if millis % 1000:
        # Sub-second precision: Prometheus accepts "1500ms", and keeping ms avoids rounding.
        return f"{millis}ms"
    whole = millis // 1000
    parts = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
