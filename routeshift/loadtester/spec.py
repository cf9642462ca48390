"""What one load-test hook asks for, read from the hook's ``metadata`` and bounded.

Everything about the load comes from the metadata the Canary's webhook carries (all values
are strings there, as in Flagger), so a Canary owner cannot exceed what the loadtester's
operator allows: the bounds in :class:`Limits` are the server's, and a spec over a bound is
refused with the reason (HTTP 400) rather than silently clamped, so nobody believes a load
test ran at a rate it did not. Unknown keys are refused too: a typo such as ``rps`` must
not quietly fall back to the default rate.

Pure: parsing never resolves names or opens sockets; the allow-list is checked separately.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from analysis import durations
from routeshift.loadtester import errors, pacing

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULTS = {"rate": "10", "duration": "1m", "concurrency": "10", "method": "GET", "timeout": "5s",
            "mode": "background"}
KEYS = ("url", "rate", "duration", "concurrency", "method", "headers", "body", "timeout", "mode", "maxErrorRate")
# flagger-loadtester's keys: answered with a pointer to the equivalent, not "unknown key".
_FLAGGER_KEYS = ("cmd", "type", "logCmdOutput")


class Mode(str, enum.Enum):
    """``background``: start (or join) a run and answer at once; ``blocking``: answer when it ends."""

    BACKGROUND = "background"
    BLOCKING = "blocking"


@dataclasses.dataclass(frozen=True)
class Limits:
    """The loadtester operator's bounds on every run (command-line options)."""

    max_rate: float = 100.0  # requests per second of one run
    max_concurrency: int = 50  # requests in flight of one run
    max_duration: float = 600.0  # seconds of one run's schedule
    max_timeout: float = 30.0  # seconds of one request
    max_body_bytes: int = 65536


@dataclasses.dataclass(frozen=True)
class LoadSpec:
    """One run's load: where, how fast, how long, and what each request looks like."""

    url: str
    rate: float
    duration: float
    concurrency: int
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""
    timeout: float = 5.0
    mode: Mode = Mode.BACKGROUND
    max_error_rate: float | None = None  # percent; None: no judgement

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def planned(self) -> int:
        return pacing.planned_requests(self.rate, self.duration)

    def as_json(self) -> dict[str, Any]:
        return {"url": self.url, "rate": self.rate, "duration": self.duration, "concurrency": self.concurrency,
                "method": self.method, "headers": [list(h) for h in self.headers], "body": self.body,
                "timeout": self.timeout, "mode": self.mode.value, "maxErrorRate": self.max_error_rate}

    def key(self, canary: str) -> str:
        """Identity for deduplication: the same Canary asking for the same load gets the same run."""
        canonical = json.dumps({"canary": canary, **self.as_json()}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def parse(metadata: Mapping[str, Any], limits: Limits) -> LoadSpec:
    """The load ``metadata`` asks for; :class:`errors.BadRequest` saying which key is wrong and why."""
    if not isinstance(metadata, Mapping):
        raise errors.BadRequest("metadata must be an object")
    flagger = [key for key in _FLAGGER_KEYS if key in metadata]
    if flagger:
        raise errors.BadRequest(f"metadata key {flagger[0]!r} is flagger-loadtester's: this loadtester takes "
                                f"url, rate, duration, concurrency (see docs/load-testing.md)")
    unknown = sorted(set(metadata) - set(KEYS))
    if unknown:
        raise errors.BadRequest(f"unknown metadata key(s) {unknown}; known: {', '.join(KEYS)}")
    values = {**DEFAULTS, **{key: value for key, value in metadata.items() if value is not None}}
    url = _url(values.get("url"))
    rate = _number(values, "rate", low=0.0, high=limits.max_rate, bound="--max-rate")
    duration = _duration(values, "duration", limits.max_duration, "--max-duration")
    concurrency = _integer(values, "concurrency", high=limits.max_concurrency, bound="--max-concurrency")
    timeout = _duration(values, "timeout", limits.max_timeout, "--max-request-timeout")
    method = str(values["method"]).upper()
    if method not in METHODS:
        raise errors.BadRequest(f"method {values['method']!r} is not one of {', '.join(METHODS)}")
    body = str(values.get("body", ""))
    if len(body.encode()) > limits.max_body_bytes:
        raise errors.BadRequest(f"body of {len(body.encode())} bytes exceeds {limits.max_body_bytes}")
    try:
        mode = Mode(str(values["mode"]))
    except ValueError:
        raise errors.BadRequest(f"mode {values['mode']!r} is not one of background, blocking") from None
    max_error_rate = None
    if "maxErrorRate" in values:
        max_error_rate = _number(values, "maxErrorRate", low=0.0, high=100.0, bound=None, inclusive_low=True)
    elif mode is Mode.BLOCKING:
        max_error_rate = 0.0  # a smoke test without a stated tolerance tolerates no failed request
    if pacing.planned_requests(rate, duration) < 1:
        raise errors.BadRequest("rate × duration plans no request")
    return LoadSpec(url=url, rate=rate, duration=duration, concurrency=concurrency, method=method,
                    headers=parse_headers(str(values.get("headers", ""))), body=body, timeout=timeout, mode=mode,
                    max_error_rate=max_error_rate)


def parse_headers(text: str) -> tuple[tuple[str, str], ...]:
    """``Name: value`` lines (as ``curl -H`` / ``hey -H`` take them), blank lines ignored."""
    headers = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not name or any(c in name for c in " \t()<>@,;\\\"/[]?={}"):
            raise errors.BadRequest(f"header line {line.strip()!r} is not 'Name: value'")
        value = value.strip()
        if not (name.isascii() and value.isascii() and value.isprintable()):
            # HTTP/1.1 header values are bytes; httpx would refuse each request instead.
            raise errors.BadRequest(f"header {name!r} must be printable ASCII")
        headers.append((name, value))
    return tuple(headers)


def _url(value: Any) -> str:
    if not value:
        raise errors.BadRequest("metadata key 'url' is required: the target of the load")
    url = str(value).strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port out of range
    except ValueError as error:
        raise errors.BadRequest(f"url {url!r}: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.BadRequest(f"url {url!r} must be http(s)://host[:port]/path")
    if parts.username or parts.password:
        raise errors.BadRequest("url must not carry credentials; use the headers key")
    return url


def _number(values: Mapping[str, Any], key: str, *, low: float, high: float, bound: str | None,
            inclusive_low: bool = False) -> float:
    try:
        number = float(values[key])
    except (TypeError, ValueError):
        raise errors.BadRequest(f"{key} {values[key]!r} is not a number") from None
    if not math.isfinite(number) or number < low or (number == low and not inclusive_low):
        raise errors.BadRequest(f"{key} {values[key]!r} must be {'at least' if inclusive_low else 'above'} {low:g}")
    if number > high and bound is None:
        raise errors.BadRequest(f"{key} {number:g} must be at most {high:g}")
    if number > high:
        raise errors.BadRequest(f"{key} {number:g} exceeds this loadtester's bound {bound} {high:g}")
    return number


def _integer(values: Mapping[str, Any], key: str, *, high: int, bound: str) -> int:
    text = str(values[key]).strip()
    if not text.isdigit() or int(text) < 1:
        raise errors.BadRequest(f"{key} {values[key]!r} must be a whole number of at least 1")
    if int(text) > high:
        raise errors.BadRequest(f"{key} {int(text)} exceeds this loadtester's bound {bound} {high}")
    return int(text)


def _duration(values: Mapping[str, Any], key: str, high: float, bound: str) -> float:
    try:
        seconds = durations.seconds(str(values[key]))
    except ValueError as error:
        raise errors.BadRequest(f"{key}: {error}") from None
    if seconds > high:
        raise errors.BadRequest(f"{key} {values[key]} exceeds this loadtester's bound {bound} "
                                f"{durations.format_duration(high)}")
    return seconds
