"""``kubectl canary lint -f FILE``: reject a bad Canary manifest before it reaches a cluster.

Two layers, the same two the cluster applies: the CRD's OpenAPI schema (types, bounds,
patterns, required fields, and unknown fields, which ``kubectl apply``'s strict field
validation refuses), checked with ``jsonschema``; then the semantic rules only the
controller knows (strictly increasing steps, a pause at a step that exists, stable and
canary being different Services, ...), checked by parsing the spec with the same pydantic
models the controller uses. Without a cluster, the second layer is what would otherwise
surface as ``Ready=False InvalidSpec`` only after the apply.

The schema is ``crds/canaries.routeshift.dev.yaml`` of the checkout the plugin runs from,
or ``--crd FILE``, else generated from ``rollouts.model`` (the CRD's own source). Every
problem is reported with its document, field path and line, and the exit code is 1 when
any document has one.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import sys
from typing import Any

import jsonschema
import yaml

from routeshift.plugin import errors

API_VERSION = "routeshift.dev/v1alpha1"
KIND = "Canary"
CRD_FILE = "canaries.routeshift.dev.yaml"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclasses.dataclass(frozen=True)
class Problem:
    path: str  # dotted field path, "" for the document itself
    message: str
    source: str  # yaml, schema, semantic
    line: int | None = None


@dataclasses.dataclass
class Report:
    """The result for one document of the file."""

    file: str
    document: int  # 1-based
    kind: str | None
    name: str | None
    problems: list[Problem] = dataclasses.field(default_factory=list)
    skipped: bool = False

    @property
    def valid(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "document": self.document, "kind": self.kind, "name": self.name,
                "valid": self.valid, "skipped": self.skipped,
                "problems": [dataclasses.asdict(problem) for problem in self.problems]}


# ---------------------------------------------------------------------- schema


def load_schema(crd_path: str | None = None) -> tuple[dict[str, Any], str]:
    """The Canary openAPIV3Schema and where it came from."""
    if crd_path:
        path = pathlib.Path(crd_path)
    else:
        import rollouts

        path = pathlib.Path(rollouts.__file__).resolve().parent.parent / "crds" / CRD_FILE
        if not path.exists():
            from rollouts import crd

            return _version_schema(crd.canary_crd(), "rollouts.crd"), "generated from rollouts.model"
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    except (OSError, yaml.YAMLError) as error:
        raise errors.UsageError(f"cannot read the CRD {path}: {error}") from error
    crd = next((d for d in documents if d.get("kind") == "CustomResourceDefinition"
                and (d.get("spec") or {}).get("names", {}).get("kind") == KIND), None)
    if crd is None:
        raise errors.UsageError(f"{path} holds no CustomResourceDefinition for kind {KIND}")
    return _version_schema(crd, str(path)), str(path)


def _version_schema(crd: dict[str, Any], where: str) -> dict[str, Any]:
    version = API_VERSION.split("/")[1]
    for entry in crd["spec"]["versions"]:
        if entry.get("name") == version:
            return entry["schema"]["openAPIV3Schema"]
    raise errors.UsageError(f"the CRD from {where} does not serve {API_VERSION}")


def as_json_schema(schema: Any) -> Any:
    """OpenAPI v3.0 (a CRD's dialect) to JSON Schema draft 4: ``nullable`` becomes a null type."""
    if isinstance(schema, list):
        return [as_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: as_json_schema(value) for key, value in schema.items()
                 if not key.startswith("x-kubernetes-") and key not in ("nullable", "properties")}
    if "properties" in schema:
        converted["properties"] = {name: as_json_schema(sub) for name, sub in schema["properties"].items()}
    if schema.get("x-kubernetes-int-or-string") and "type" not in schema:
        converted["type"] = ["integer", "string"]
    if schema.get("nullable") and "type" in converted:
        types = converted["type"] if isinstance(converted["type"], list) else [converted["type"]]
        converted["type"] = [*types, "null"]
    return converted


def unknown_fields(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Fields the structural schema does not declare (the API server prunes or, strictly, refuses them)."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if properties is not None and key in properties:
                found += unknown_fields(item, properties[key], child)
            elif isinstance(additional, dict):
                found += unknown_fields(item, additional, child)
            elif additional is True:
                continue
            elif properties is not None or schema.get("type") == "object":
                found.append(child)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{path}[{index}]")
    return found


# ---------------------------------------------------------------------- checking


def lint_text(text: str, *, file: str, schema: dict[str, Any]) -> list[Report]:
    reports: list[Report] = []
    loader = yaml.SafeLoader(text)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            index += 1
            document = loader.construct_document(node)
            if document is None:
                index -= 1  # an empty document between separators is not a document
                continue
            reports.append(lint_document(document, node, file=file, index=index, schema=schema))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        reports.append(Report(file, index + 1, None, None, [Problem("", f"invalid YAML: {error}", "yaml",
                                                                    mark.line + 1 if mark else None)]))
    finally:
        loader.dispose()
    if not reports:
        reports.append(Report(file, 1, None, None, [Problem("", "no documents found", "yaml")]))
    return reports


def lint_document(document: Any, node: yaml.Node | None, *, file: str, index: int,
                  schema: dict[str, Any]) -> Report:
    if not isinstance(document, dict):
        return Report(file, index, None, None, [Problem("", "a manifest must be a mapping", "yaml", _line(node, []))])
    kind, api_version = document.get("kind"), document.get("apiVersion")
    name = (document.get("metadata") or {}).get("name") if isinstance(document.get("metadata"), dict) else None
    report = Report(file, index, kind, name)
    if kind != KIND or not str(api_version or "").startswith("routeshift.dev/"):
        report.skipped = True  # other objects in the same file (Services, routes) are not ours to judge
        return report
    problems = report.problems
    if api_version != API_VERSION:
        problems.append(Problem("apiVersion", f"unsupported apiVersion {api_version!r}; use {API_VERSION}", "schema",
                                _line(node, ["apiVersion"])))
        return report
    metadata = document.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        problems.append(Problem("metadata.name", "required", "schema", _line(node, ["metadata"])))
    elif not _DNS_SUBDOMAIN.match(str(metadata["name"])) or len(str(metadata["name"])) > 253:
        problems.append(Problem("metadata.name", f"{metadata['name']!r} is not a valid DNS subdomain name", "schema",
                                _line(node, ["metadata", "name"])))
    if "status" in document:
        problems.append(Problem("status", "status is written by the controller; remove it from the manifest",
                                "schema", _line(node, ["status"])))
    body = {key: value for key, value in document.items() if key not in ("apiVersion", "kind", "metadata", "status")}
    for path in unknown_fields(body, schema):
        problems.append(Problem(path, "unknown field", "schema", _line(node, _parts(path))))
    validator = jsonschema.Draft4Validator(_body_schema(schema))
    schema_problems = sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    for problem in schema_problems:
        for parts, message in _explained(problem):
            problems.append(Problem(_dotted(parts), message, "schema", _line(node, parts)))
    if not schema_problems and isinstance(body.get("spec"), dict):
        problems += _semantic(body["spec"], node)
    return report


def _explained(error: jsonschema.ValidationError) -> list[tuple[list[Any], str]]:
    """(field path, message) for one schema error; a ``oneOf`` of alternative forms says which part is missing.

    The spec is a ``oneOf`` of ``required`` sets (stable and canary, or targetRef and
    service): jsonschema's own message repeats the whole spec and names neither. The
    alternative the manifest has started (the one with most of its fields present) is
    the one its author meant, so its missing fields are reported.
    """
    parts = list(error.absolute_path)
    branches = error.validator_value if error.validator == "oneOf" and isinstance(error.validator_value, list) else []
    required = [list(branch.get("required") or ()) for branch in branches if isinstance(branch, dict)]
    if not required or len(required) != len(branches) or not isinstance(error.instance, dict):
        return [(parts, error.message)]
    forms = ", ".join(" + ".join(fields) for fields in required)
    if not error.context:  # valid under more than one alternative
        return [(parts, f"set only one of: {forms}")]
    present = [sum(field in error.instance for field in fields) for fields in required]
    if max(present) == 0:
        return [(parts, f"set one of: {forms}")]
    chosen = present.index(max(present))
    return [(list(sub.absolute_path), sub.message) for sub in error.context
            if sub.relative_schema_path and sub.relative_schema_path[0] == chosen] or [(parts, error.message)]


def _body_schema(schema: dict[str, Any]) -> dict[str, Any]:
    converted = as_json_schema(schema)
    properties = {k: v for k, v in converted.get("properties", {}).items()
                  if k not in ("apiVersion", "kind", "metadata", "status")}
    required = [k for k in converted.get("required", []) if k in properties]
    return {**converted, "properties": properties, **({"required": required} if required else {})}


def _semantic(spec: dict[str, Any], node: yaml.Node | None) -> list[Problem]:
    """The controller's own rules: parse the spec with its models."""
    import pydantic

    from rollouts import model

    try:
        model.parse_spec(spec)
    except pydantic.ValidationError as error:
        problems = []
        for item in error.errors():
            parts = ["spec", *item.get("loc", ())]
            message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
            problems.append(Problem(_dotted(parts), message, "semantic", _line(node, parts)))
        return problems
    return []


def _dotted(parts: list[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _parts(path: str) -> list[Any]:
    parts: list[Any] = []
    for piece in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        parts.append(int(piece[1:-1]) if piece.startswith("[") else piece)
    return parts


def _line(node: yaml.Node | None, parts: list[Any]) -> int | None:
    """The 1-based line of the deepest key (or list item) along ``parts`` that exists in the YAML."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in parts:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def lint_paths(paths: list[str], *, crd: str | None = None) -> tuple[list[Report], str]:
    """Lint every file (``-`` is stdin); directories contribute their *.yaml and *.yml files."""
    schema, source = load_schema(crd)
    reports: list[Report] = []
    for name in paths:
        if name == "-":
            reports += lint_text(sys.stdin.read(), file="<stdin>", schema=schema)
            continue
        path = pathlib.Path(name)
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
        for file in files:
            try:
                text = file.read_text()
            except OSError as error:
                raise errors.UsageError(f"cannot read {file}: {error.strerror or error}") from error
            reports += lint_text(text, file=str(file), schema=schema)
    return reports, source


def format_report(report: Report) -> list[str]:
    label = f"{report.kind}/{report.name}" if report.kind else f"document {report.document}"
    where = f"{report.file}:{label}"
    if report.skipped:
        return [f"{where}: skipped (not a {API_VERSION} {KIND})"]
    if report.valid:
        return [f"{where}: valid"]
    lines = []
    for problem in report.problems:
        line = f" (line {problem.line})" if problem.line else ""
        field = f"{problem.path}: " if problem.path else ""
        lines.append(f"{where}{line}: {field}{problem.message} [{problem.source}]")
    return lines
