"""Copying, encoding and decoding the emulator's objects, which are plain JSON data.

Every write copies the stored object (the patch applies to a copy, admission prunes a copy,
the store keeps a copy) and every response and watch event encodes one. With the standard
library that was most of the emulator's CPU at hundreds of Canaries (``copy.deepcopy``
alone 42 % in a profile of the scale bench), and the emulator shares the machine with the
controller it stands in for a cluster for. orjson does both in C; a copy is an encode and a
decode, several times faster than ``deepcopy`` on objects that are only dicts, lists,
strings, numbers, booleans and None. Anything else (an integer beyond 64 bits, a value a
Python caller put in) falls back to the standard library, so behaviour never depends on it.
"""

from __future__ import annotations

import copy as _copy
import json
from typing import Any, TypeVar

import orjson

T = TypeVar("T")


def copy(obj: T) -> T:
    """A deep copy of JSON data."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    try:
        return orjson.loads(orjson.dumps(obj))
    except TypeError:  # orjson.JSONEncodeError: not plain JSON data
        return _copy.deepcopy(obj)


def dumps(obj: Any) -> bytes:
    """Compact JSON, UTF-8 encoded (non-ASCII characters as themselves, not escaped)."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def loads(data: bytes | str) -> Any:
    """Decode JSON; a malformed document raises ``ValueError`` (``json.JSONDecodeError``)."""
    return orjson.loads(data)
