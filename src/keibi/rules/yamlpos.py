"""YAML documents with their node trees, so that errors can name a line.

One compose pass gives, per document, both the node tree (which knows line numbers) and
the plain data pySigma wants. :func:`line_of` finds the line of a key path, and
:func:`find_line` narrows an error down to the key or scalar that mentions a token.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

PathPart = str | int


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document: its data, its node tree and its first line (1-based)."""

    data: Any
    node: yaml.Node
    line: int
    #: (line, key) of keys repeated within one mapping (merge keys ``<<`` aside)
    duplicates: list[tuple[int, str]]


def compose_documents(text: str) -> list[Document]:
    """Every document of ``text``; raises :class:`yaml.YAMLError` on bad syntax."""
    loader = _Loader(text)
    docs: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            dups = duplicate_keys(node)  # before construction expands merge keys in place
            data = loader.construct_document(node)
            docs.append(Document(data, node, node.start_mark.line + 1, dups))
    finally:
        loader.dispose()
    return docs


def error_line(exc: yaml.YAMLError) -> int:
    """The 1-based line a YAML error points at (0 when it has no mark)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else 0


def _child(node: yaml.Node, part: PathPart) -> tuple[yaml.Node, yaml.Node] | None:
    """(key node or item node, value node) of ``part`` inside ``node``."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key, value
    elif (isinstance(node, yaml.SequenceNode) and isinstance(part, int)
          and 0 <= part < len(node.value)):
        item = node.value[part]
        return item, item
    return None


def node_at(node: yaml.Node, path: tuple[PathPart, ...]) -> yaml.Node | None:
    """The value node at ``path`` (None when the path does not exist)."""
    for part in path:
        found = _child(node, part)
        if found is None:
            return None
        node = found[1]
    return node


def line_of(node: yaml.Node, path: tuple[PathPart, ...]) -> int:
    """The line of the deepest existing key on ``path`` (1-based)."""
    line = node.start_mark.line + 1
    for part in path:
        found = _child(node, part)
        if found is None:
            break
        line = found[0].start_mark.line + 1
        node = found[1]
    return line


def _walk(node: yaml.Node) -> Iterator[yaml.Node]:
    """Every node under ``node`` once, in document order (aliases and cycles visited once)."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        yield n
        if isinstance(n, yaml.SequenceNode):
            stack.extend(reversed(n.value))
        elif isinstance(n, yaml.MappingNode):
            for key, value in reversed(n.value):
                stack.append(value)
                stack.append(key)


def _scalars(node: yaml.Node) -> Iterator[yaml.ScalarNode]:
    for n in _walk(node):
        if isinstance(n, yaml.ScalarNode):
            yield n


def find_line(node: yaml.Node, path: tuple[PathPart, ...], tokens: list[str]) -> int:
    """The line of the first scalar under ``path`` equal to, then containing, a token.

    Falls back to :func:`line_of` ``path`` when no scalar mentions any token.
    """
    base = node_at(node, path)
    if base is not None and tokens:
        scalars = list(_scalars(base))
        for exact in (True, False):
            for token in tokens:
                for s in scalars:
                    text = str(s.value)
                    if (text == token) if exact else (token and token in text):
                        return int(s.start_mark.line) + 1
    return line_of(node, path)


def duplicate_keys(node: yaml.Node) -> list[tuple[int, str]]:
    """(line, key) of every key that repeats within one mapping, anywhere in ``node``."""
    found: list[tuple[int, str]] = []
    for n in _walk(node):
        if isinstance(n, yaml.MappingNode):
            seen: set[str] = set()
            for key, _value in n.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        found.append((key.start_mark.line + 1, str(key.value)))
                    seen.add(key.value)
    found.sort()
    return found
