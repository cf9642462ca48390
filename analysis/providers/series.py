"""Reduce what a provider answered to the numbers the judge reads, and the time frame it asked for.

Every provider other than Prometheus answers with time series over a time frame, so one
rule applies to all of them: an instant query covers ``[at - window, at]`` and its value is
the most recent point that has one (null points, which the backends use for "not yet
written", are skipped); a range query keeps every such point in time order. More than one
series is ambiguous and never guessed at, exactly as with Prometheus. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
from collections.abc import Iterable, Mapping, Sequence

from analysis import errors

Point = tuple[float, float | None]  # (unix seconds, value or None)


@dataclasses.dataclass(frozen=True)
class TimeFrame:
    """The span a query covers, as aware UTC datetimes."""

    start: datetime.datetime
    end: datetime.datetime

    @classmethod
    def ending(cls, at: datetime.datetime, window: float) -> TimeFrame:
        end = _aware(at)
        return cls(end - datetime.timedelta(seconds=window), end)

    @classmethod
    def between(cls, start: datetime.datetime, end: datetime.datetime) -> TimeFrame:
        return cls(_aware(start), _aware(end))

    @property
    def seconds(self) -> tuple[int, int]:
        """(start, end) as whole unix seconds; the start rounded down so the frame never shrinks."""
        return math.floor(self.start.timestamp()), math.ceil(self.end.timestamp())

    @property
    def milliseconds(self) -> tuple[int, int]:
        return math.floor(self.start.timestamp() * 1000), math.ceil(self.end.timestamp() * 1000)

    def iso(self) -> tuple[str, str]:
        return _iso(self.start), _iso(self.end)


def single(series: Sequence[object], labels: Iterable[Mapping[str, str]], query: str) -> object:
    """The only series of an answer; NoDataError for none, MultipleSeriesError for several."""
    if not series:
        raise errors.NoDataError(f"no series returned: {query}", query=query)
    if len(series) > 1:
        found = tuple(labels)
        shown = ", ".join(_labels(one) for one in found[:3])
        raise errors.MultipleSeriesError(
            f"{len(series)} series returned ({shown}{', ...' if len(series) > 3 else ''}); "
            f"aggregate the query to one series: {query}",
            query=query,
            labels=found,
        )
    return series[0]


def latest(points: Iterable[Point], query: str) -> float:
    """The most recent value; NoDataError when no point has one, NaNResultError when it is NaN."""
    known = [point for point in points if point[1] is not None]
    if not known:
        raise errors.NoDataError(f"no data points in the time frame: {query}", query=query)
    value = float(max(known, key=lambda point: point[0])[1])
    if math.isnan(value):
        raise errors.NaNResultError(f"latest value is NaN: {query}", query=query)
    return value


def values(points: Iterable[Point]) -> list[float]:
    """Every point's value in time order, null points dropped (NaN kept: the judge drops it)."""
    return [float(value) for _, value in sorted(points, key=lambda point: point[0]) if value is not None]


def _labels(metric: Mapping[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(metric.items())) + "}"


def _aware(moment: datetime.datetime) -> datetime.datetime:
    # Naive datetimes are ambiguous; the controller passes aware UTC, tests may not.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.timezone.utc)


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
