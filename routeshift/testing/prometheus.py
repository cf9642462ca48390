"""A real Prometheus server as a child process, for tests and the demo.

Routeshift's analysis is only as trustworthy as the queries it runs, so tests run them
against the real Prometheus (Debian package ``prometheus``) rather than a fake: it
scrapes real HTTP endpoints on loopback, or starts on data backfilled with
``promtool tsdb create-blocks-from openmetrics`` when a test needs history at once
(Prometheus 2.x only appends the first scraped sample after a few seconds).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from routeshift.testing import processes
from routeshift.testing.polling import until


class PrometheusUnavailable(RuntimeError):
    """The prometheus/promtool binaries are missing or the server did not become ready."""


class QueryFailed(RuntimeError):
    """Prometheus answered a query with an error (bad PromQL, timeout)."""


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PrometheusUnavailable(
            f"{name} not found on PATH: install the Debian package 'prometheus' (the Makefile's test and demo targets do)"
        )
    return path


class PrometheusServer:
    """One Prometheus process on 127.0.0.1 with its own config and TSDB directory.

    ``scrape_targets`` are ``host:port`` strings scraped at ``/metrics`` every
    ``scrape_interval``; ``scrape_configs`` adds raw scrape config entries for anything
    more specific. Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        scrape_targets: Sequence[str] = (),
        scrape_configs: Sequence[dict[str, Any]] = (),
        scrape_interval: str = "1s",
        rule_files: Sequence[Path] = (),
        job_name: str = "routeshift",
        extra_args: Sequence[str] = (),
    ) -> None:
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="routeshift-prometheus-"))
        self.tsdb_path = self.workdir / "tsdb"
        self.config_path = self.workdir / "prometheus.yml"
        self.log_path = self.workdir / "prometheus.log"
        self.scrape_targets = list(scrape_targets)
        self.scrape_configs = list(scrape_configs)
        self.scrape_interval = scrape_interval
        self.rule_files = [Path(path) for path in rule_files]
        self.job_name = job_name
        self.extra_args = list(extra_args)
        self.port: int | None = None
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise PrometheusUnavailable("Prometheus is not running")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def config(self) -> dict[str, Any]:
        scrape_configs = list(self.scrape_configs)
        if self.scrape_targets:
            scrape_configs.insert(0, {
                "job_name": self.job_name,
                "scrape_interval": self.scrape_interval,
                "static_configs": [{"targets": self.scrape_targets}],
            })
        return {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.scrape_interval},
            "rule_files": [str(path) for path in self.rule_files],
            "scrape_configs": scrape_configs,
        }

    def backfill(self, openmetrics: str) -> None:
        """Write historic samples (OpenMetrics text ending in ``# EOF``) into the TSDB.

        Must be called before :meth:`start`: Prometheus loads blocks when it opens the TSDB.
        """
        if self._process is not None:
            raise PrometheusUnavailable("backfill before start(): Prometheus reads new blocks only when it opens the TSDB")
        if not openmetrics.rstrip().endswith("# EOF"):
            openmetrics = openmetrics.rstrip("\n") + "\n# EOF\n"
        self.tsdb_path.mkdir(parents=True, exist_ok=True)
        source = self.workdir / "backfill.om"
        source.write_text(openmetrics)
        result = subprocess.run(
            [_binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(source), str(self.tsdb_path)],
            capture_output=True, text=True, timeout=60,
        )
        if result.returncode != 0:
            raise PrometheusUnavailable(f"promtool backfill failed: {result.stderr.strip() or result.stdout.strip()}")

    def start(self, timeout: float = 20.0) -> "PrometheusServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tsdb_path.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        self.port = processes.free_port()
        self._process = processes.start(
            [
                _binary("prometheus"),
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.tsdb_path}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=30d",
                *self.extra_args,
            ],
            log_path=self.log_path,
        )
        try:
            until(self._ready, timeout, interval=0.05, description="Prometheus /-/ready",
                  ignore=(httpx.TransportError,))
        except AssertionError as error:
            self.stop()
            raise PrometheusUnavailable(f"Prometheus did not become ready: {error}; log: {self.log_tail()}") from error
        return self

    def _ready(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise PrometheusUnavailable(f"Prometheus exited with {self._process.returncode}: {self.log_tail()}")
        return httpx.get(f"{self.url}/-/ready", timeout=2.0).status_code == 200

    def stop(self) -> None:
        if self._process is not None:
            processes.stop(self._process)
            self._process = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "PrometheusServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def reload(self) -> None:
        """Re-read the config file (after changing targets or rules)."""
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        httpx.post(f"{self.url}/-/reload", timeout=5.0).raise_for_status()

    def query(self, promql: str, *, at: float | None = None) -> list[dict[str, Any]]:
        """Run an instant query; return ``data.result`` (a list of series with ``metric`` and ``value``)."""
        params: dict[str, Any] = {"query": promql}
        if at is not None:
            params["time"] = at
        return self._api("query", params)["result"]

    def query_range(self, promql: str, *, start: float, end: float, step: float) -> list[dict[str, Any]]:
        return self._api("query_range", {"query": promql, "start": start, "end": end, "step": step})["result"]

    def targets_up(self) -> bool:
        """True once every configured target has been scraped successfully at least once."""
        active = self._api("targets", {"state": "active"})["activeTargets"]
        return bool(active) and all(target["health"] == "up" for target in active)

    def _api(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/api/v1/{endpoint}", params=params, timeout=10.0)
        body = response.json()
        if body.get("status") != "success":
            raise QueryFailed(f"{endpoint} {params.get('query', '')!r}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]
