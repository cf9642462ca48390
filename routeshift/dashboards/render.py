"""Dashboard builders → the JSON files we ship, byte for byte reproducible.

The committed JSON must equal a fresh rendering (a test checks it), so output is
canonical: sorted keys, two-space indent, one trailing newline, panel ids assigned in
reading order. Two fields the SDK's annotation model lacks are added here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from routeshift.dashboards import canary, controller

#: File stem → builder. The stem is also the dashboard's uid.
DASHBOARDS: dict[str, Callable[[], builders.Dashboard]] = {
    canary.UID: canary.build,
    controller.UID: controller.build,
}

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUTS = (REPO_ROOT / "charts" / "routeshift" / "dashboards", REPO_ROOT / "examples" / "grafana")


def panels_of(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel in reading order, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def to_dict(builder: builders.Dashboard) -> dict[str, Any]:
    model = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    for number, panel in enumerate(panels_of(model), start=1):
        panel["id"] = number
    for annotation in model.get("annotations", {}).get("list", []):
        # Grafana's Prometheus annotations title each marker with titleFormat; without it
        # the marker is anonymous. useValueForTime=false: the sample time is the event time.
        annotation.setdefault("titleFormat", annotation["name"])
        annotation.setdefault("useValueForTime", False)
    return model


def render(name: str) -> str:
    return json.dumps(to_dict(DASHBOARDS[name]()), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {f"{name}.json": render(name) for name in DASHBOARDS}


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in rendered().items():
        path = directory / file_name
        path.write_text(text)
        written.append(path)
    return written


def stale(directory: Path) -> list[str]:
    """Names of files in ``directory`` that are missing or differ from a fresh rendering."""
    return [file_name for file_name, text in rendered().items()
            if not (directory / file_name).is_file() or (directory / file_name).read_text() != text]
