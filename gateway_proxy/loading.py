"""Read a configuration directory into a Config, keeping each file's last good content.

Standalone mode is driven by files people edit by hand, so a typo must not take routes down:
a file that fails to parse is reported (``errors``) and its previous good objects keep serving,
while every other file's changes still apply. A directory signature (name, size, mtime, inode)
polled every ``interval`` tells when to re-read; only changed files are parsed again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import yaml

from gateway_proxy import resources, yaml_parsing
from gateway_proxy.attachment import Config
from gateway_proxy.errors import InvalidDocument

SUFFIXES = (".yaml", ".yml")


def parse_text(text: str, source: str) -> list:
    """Every object of a multi-document YAML text; raises InvalidDocument on any bad document."""
    try:
        documents = yaml_parsing.load_all(text)
    except yaml.YAMLError as error:
        raise InvalidDocument(source, f"invalid YAML: {error}") from error
    objects = []
    for number, document in enumerate(_expand_lists(documents)):
        if document is None:
            continue
        parsed = resources.parse(document, f"{source}#{number}")
        if parsed is not None:
            objects.append(parsed)
    return objects


def _expand_lists(documents: list) -> list:
    """``kind: List`` documents (what ``kubectl get -o yaml`` writes) stand for their items."""
    out = []
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "List":
            out.extend(document.get("items") or ())
        else:
            out.append(document)
    return out


def _signature(path: str) -> tuple:
    stat = os.stat(path)
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino)


@dataclass
class DirectoryLoader:
    """Parses changed files of ``directory``; ``load()`` returns a Config or None when unchanged."""

    directory: str
    files: dict[str, tuple] = field(default_factory=dict)  # name -> (signature, objects)
    errors: dict[str, str] = field(default_factory=dict)
    _seen: dict[str, tuple] = field(default_factory=dict)

    def scan(self) -> dict[str, tuple]:
        out = {}
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return out
        for name in names:
            if name.endswith(SUFFIXES) and not name.startswith("."):
                try:
                    out[name] = _signature(os.path.join(self.directory, name))
                except FileNotFoundError:
                    continue
        return out

    def changed(self) -> bool:
        """Whether the directory differs from what the last ``load`` saw (a few stat calls)."""
        return self.scan() != self._seen

    def pending_bytes(self) -> int:
        """Bytes of files that a ``load`` now would parse again."""
        total = 0
        for name, signature in self.scan().items():
            known = self.files.get(name)
            if known is None or known[0] != signature or name in self.errors:
                total += signature[0]
        return total

    def load(self, force: bool = False) -> Config | None:
        current = self.scan()
        if current == self._seen and not force:
            return None
        self._seen = current
        for name in list(self.files):
            if name not in current:
                del self.files[name]
        for name in list(self.errors):
            if name not in current:
                del self.errors[name]
        for name, signature in sorted(current.items()):
            known = self.files.get(name)
            if known is not None and known[0] == signature and name not in self.errors:
                continue
            path = os.path.join(self.directory, name)
            try:
                with open(path, encoding="utf-8") as handle:
                    objects = parse_text(handle.read(), name)
            except (OSError, UnicodeDecodeError) as error:
                self.errors[name] = f"{name}: cannot read: {error}"
                continue
            except InvalidDocument as error:
                self.errors[name] = str(error)
                # Keep the last good objects of this file, but remember we saw this version.
                if known is not None:
                    self.files[name] = (signature, known[1])
                continue
            self.errors.pop(name, None)
            self.files[name] = (signature, objects)
        objects = [obj for name in sorted(self.files) for obj in self.files[name][1]]
        return Config.of(objects)
