"""Fault injection: fail chosen requests with a chosen status *before* any state changes.

Retries and conflict handling (kopf's backoff on 5xx, the controller's re-read on 409) can
only be tested if the API fails on demand, and a failed request must not have half-happened:
the check runs before the emulator parses the body or touches the store, so a failed PATCH
leaves the object exactly as it was. Rules are set from the test's thread while the
emulator's loop reads them, hence the lock.

    faults.inject(method="PATCH", path=r"/canaries/", status=503, times=1)
    faults.inject(method="PATCH", path=r"/httproutes/", status=409, every=2)  # 1st, 3rd, 5th…
"""

from __future__ import annotations

import dataclasses
import re
import threading

from routeshift.emulator import errors


@dataclasses.dataclass
class Fault:
    """One rule. ``times`` bounds how often it fires (None: no bound); ``every`` fires on the
    1st matching request and every ``every``-th after it. ``matched``/``fired`` count requests."""

    method: str | None
    path: re.Pattern[str] | None
    status: int
    times: int | None
    every: int
    message: str | None
    reason: str | None
    retry_after: float | None
    matched: int = 0
    fired: int = 0

    def applies(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return self.path is None or self.path.search(path) is not None

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


class Faults:
    """The set of active fault rules of one emulator."""

    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()

    def inject(self, *, method: str | None = None, path: str | re.Pattern[str] | None = None, status: int = 503,
               times: int | None = 1, every: int = 1, message: str | None = None, reason: str | None = None,
               retry_after: float | None = None) -> Fault:
        """Add a rule; ``path`` is a regex searched in the URL path (not the query)."""
        if every < 1:
            raise ValueError("every must be >= 1")
        pattern = re.compile(path) if isinstance(path, str) else path
        fault = Fault(method=method.upper() if method else None, path=pattern, status=status, times=times,
                      every=every, message=message, reason=reason, retry_after=retry_after)
        with self._lock:
            self._rules.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        with self._lock:
            if fault in self._rules:
                self._rules.remove(fault)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[Fault]:
        with self._lock:
            return list(self._rules)

    def check(self, method: str, path: str) -> None:
        """Raise the first applicable rule's error; count matches for ``every``."""
        with self._lock:
            for fault in self._rules:
                if fault.exhausted or not fault.applies(method, path):
                    continue
                fault.matched += 1
                if (fault.matched - 1) % fault.every == 0:
                    fault.fired += 1
                    raise errors.injected(fault.status, fault.message, fault.reason, fault.retry_after)
