"""Parse config files ~5x faster than PyYAML, yet to exactly the objects PyYAML's safe loader gives.

A cold reload of 10,000 rules spent most of its time in PyYAML: even with the libyaml parser,
its constructor and resolver run in Python for every scalar. ``ryaml`` does the whole job in
Rust with the same libyaml scanner (via ``unsafe-libyaml``), so quoting, escapes, folding and
syntax errors are libyaml's, like PyYAML's. Only the resolution of plain scalars differs:
``ryaml`` follows YAML 1.2 and PyYAML 1.1, where ``yes``/``on`` are booleans, ``0777`` is
octal, ``2024-01-01`` a date, ``1_000`` an int, ``1e3`` and ``0o17`` strings, ``<<`` a merge.

PyYAML stays the authority. A fast result is kept only when it cannot differ:

- every string the fast parser returned would also be a string for PyYAML had it been written
  plain, or it cannot have been plain (``ryaml`` would not have made a string of it, or it is
  nowhere in the text as a whole token: ``"2024-01-01T10:00:00Z"`` is quoted);
- when the text has a float, a ``0o`` or a ``!`` (tags), no token is a 1.2-only number or a tag.

Anything else (those cases, or the fast parser raising) is parsed again by PyYAML, which gives
the result or the error with its line and column. Empty documents are dropped. JSON files go
through ``json``, kept only where it reads numbers and escapes as PyYAML does. Big streams are
parsed a run of documents at a time, so that a worker thread never holds the GIL for long.
"""

from __future__ import annotations

import json
import re

import ryaml
import yaml

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVERS = LOADER.yaml_implicit_resolvers
_STR = "tag:yaml.org,2002:str"
_FLOAT = "tag:yaml.org,2002:float"
CHUNK = 64 * 1024  # characters of YAML ryaml parses in one call, holding the GIL ~7 ms
_DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)
_BEFORE_PLAIN = "[]{},:\ufeff"
_AFTER_PLAIN = "[]{},:#"

# A token the fast parser reads as a number where PyYAML reads a string (``1e3``, ``1.0e3``,
# ``-.5``, ``0o17``), or a tag. The cheap leading class keeps the scan at ~10 ns a character;
# the lookbehind then checks that the token starts a scalar (text start, blank, flow indicator).
_RISKY_TOKEN = re.compile(
    r"[-+.0-9!](?<=[\s\ufeff\[\]{},:][-+.0-9!])"
    r"(?:(?<=!)|(?<=[-+])(?:\.[0-9]|0[oO]|\.?[0-9][0-9_.]*[eE])|(?<=0)[oO]|(?<=[0-9])[0-9_.]*[eE]"
    r"|(?<=\.)[0-9][0-9_.]*[eE])")
# What json reads differently from libyaml in a JSON file: surrogate escapes, DEL and C1
# controls (NEL is a line break to YAML 1.1).
_JSON_RISKY = re.compile(r"[\x7f-\x9f\ufffe\uffff]|\\u[dD][89a-fA-F]")


def load_all(text: str) -> list:
    """The non-empty documents of ``text``, as PyYAML's safe loader builds them.

    Raises ``yaml.YAMLError`` (PyYAML's, with line and column) when the text is not valid.
    """
    documents = fast_load_all(text)
    if documents is None:
        documents = [document for document in yaml.load_all(text, Loader=LOADER) if document is not None]
    return documents


def fast_load_all(text: str, chunk: int = CHUNK) -> list | None:
    """The non-empty documents the fast parsers give, or None when PyYAML must decide."""
    if text.lstrip().startswith("{"):
        # Generated configs are often JSON, which json reads ~3x faster still.
        documents = _json(text)
        if documents is not None:
            return documents
    documents = []
    for run in _chunks(text, chunk):
        parsed = _ryaml_load_all(run)
        if parsed is None:
            return None
        documents.extend(parsed)
    return documents


def _chunks(text: str, chunk: int = CHUNK) -> list[str]:
    """``text`` cut before ``---`` lines into runs of documents of about ``chunk`` characters.

    ryaml holds the GIL for a whole call (~100 ms a megabyte), and big reloads parse in a worker
    thread precisely so that the event loop keeps serving: short calls let it in between. A
    ``---`` line at column 0 always ends a document to libyaml (or is an error, which PyYAML
    then reports for the whole text), and anchors do not cross documents, so each run parses
    alone as it does within the stream. Directives (``%TAG``) would not carry over: no cut then.
    """
    if len(text) <= chunk or text.startswith("%") or "\n%" in text:
        return [text]
    chunks, start = [], 0
    for marker in _DOCUMENT_START.finditer(text):
        if marker.start() - start >= chunk:
            chunks.append(text[start:marker.start()])
            start = marker.start()
    chunks.append(text[start:])
    return chunks


def _ryaml_load_all(text: str) -> list | None:
    try:
        documents = ryaml.loads_all(text)
    except BaseException as error:  # its own error, a ValueError on big numbers, or a Rust panic
        return _declined(error)
    if documents is None:  # an empty stream
        return []
    numbers = _unsafe_strings(documents, text)
    if numbers is None:
        return None
    if (numbers or "!" in text or "0o" in text or "0O" in text) and _RISKY_TOKEN.search("\n" + text):
        return None
    return [document for document in documents if document is not None]


def _declined(error: BaseException) -> None:
    """Any failure of the fast parser leaves the text to PyYAML, even a Rust panic (pyo3 raises
    those as a BaseException); interrupts and exits still propagate."""
    if not isinstance(error, Exception) and type(error).__name__ != "PanicException":
        raise error
    return None


def _json(text: str) -> list | None:
    if _JSON_RISKY.search(text):
        return None
    try:
        return [json.loads(text, parse_float=_yaml_float, parse_constant=_refuse)]
    except ValueError:
        return None


def _yaml_float(token: str) -> float:
    if _plain_tag(token) != _FLOAT:  # ``1e3`` and ``1.0e3`` are strings to YAML 1.1
        raise ValueError(token)
    return float(token)


def _refuse(token: str):
    raise ValueError(token)


def _unsafe_strings(documents: list, text: str) -> bool | None:
    """None when a string may differ from PyYAML's; else whether a float or a non-string key was seen."""
    found: set = set()  # strings, and keys of any type
    numbers = False
    stack = [documents]  # the stream is a list of documents, any of them a scalar
    while stack:
        node = stack.pop()
        if type(node) is dict:
            found.update(node)
            values = node.values()
        else:
            values = node
        for value in values:
            kind = type(value)
            if kind is str:
                found.add(value)
            elif kind is dict or kind is list:
                stack.append(value)
            elif kind is float:
                numbers = True
    for value in found:
        if type(value) is str:
            if _plain_tag(value) != _STR and not _never_plain(value, text):
                return None
        elif value is not None:
            numbers = True  # in a set 1.0 hides behind 1: any number key counts as a float
    return numbers


def _plain_tag(value: str) -> str:
    """The tag PyYAML resolves ``value`` to when it is written as a plain scalar."""
    for tag, pattern in _RESOLVERS.get(value[:1], ()):
        if pattern.match(value):
            return tag
    return _STR


def _never_plain(value: str, text: str) -> bool:
    """Whether the string ``value`` that ryaml returned came from a quoted or block scalar."""
    try:
        if type(ryaml.loads(value)) is not str:
            return True  # ryaml would not have made a string of it plain: it was quoted
    except BaseException as error:
        return bool(_declined(error))
    if any(char.isspace() for char in value):
        return False  # a multi-line plain scalar folds to this: it may appear nowhere as is
    # A one-line plain scalar appears verbatim as a whole token: after a blank, a flow
    # indicator or the start, and before a blank, an indicator or the end. When no occurrence
    # is such a token (``"2024-01-01T10:00:00Z"`` opens with a quote), none was plain.
    start = text.find(value)
    while start >= 0:
        end = start + len(value)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if (before in _BEFORE_PLAIN or before.isspace()) and (after in _AFTER_PLAIN or after.isspace()):
            return False
        start = text.find(value, start + 1)
    return True
