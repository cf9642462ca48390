"""What every provider that is not Prometheus shares: one query over a time frame, one number back.

The analysis asks a provider for a value at a moment (``query``) or a series between two
moments (``query_range``); each of these backends answers points for a time frame. This
base turns the two questions into frames (``[at - window, at]``, ``[start, end]``), reduces
the points with :mod:`analysis.providers.series`, owns the HTTP client's lifetime, and
refuses ``query_buckets`` (Prometheus histograms by ``le``) with one typed error, so that
a provider module is only the request and the answer's shape of its API (``_points``).
"""

from __future__ import annotations

import datetime

from analysis.providers import series, transport
from analysis.providers.errors import UnsupportedQuery


class FramedProvider:
    """Base of the Datadog, CloudWatch, Graphite, InfluxDB and New Relic providers."""

    service = ""  # the backend's name in messages

    def __init__(self, http: transport.Client, *, window: float):
        self.window = window
        self._http = http

    async def __aenter__(self) -> FramedProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def query(self, query: str, *, at: datetime.datetime) -> float:
        return series.latest(await self._points(query, series.TimeFrame.ending(at, self.window)), query)

    async def query_range(
        self, query: str, *, start: datetime.datetime, end: datetime.datetime, step: float
    ) -> list[float]:
        # The backend picks the resolution for the frame (its own query syntax sets another).
        return series.values(await self._points(query, series.TimeFrame.between(start, end)))

    async def query_buckets(self, query: str, *, at: datetime.datetime) -> list[tuple[float, float]]:
        raise UnsupportedQuery(f"{self.service} has no Prometheus histogram buckets (le); the latency count test "
                               f"of request-duration-p99 needs a prometheus provider: {query}")

    async def _points(self, query: str, frame: series.TimeFrame) -> list[series.Point]:
        raise NotImplementedError
