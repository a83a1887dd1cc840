"""The human sentence of an alert: a rule's ``keibi.message`` template, or a default.

Placeholders are ``{dotted.field}`` (the alert's own value, else the latest evidence
event's), ``{count}``, ``{duration}`` (``3m``, ``1h5m``), ``{distinct}`` and ``{title}``.
Only names are substituted (no format specs, no attribute access), so a template can
never reach into Python objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keibi.rules.options import PLACEHOLDER


def format_duration(seconds: float) -> str:
    """``45s``, ``3m``, ``3m10s``, ``1h5m``, ``2d3h`` (rounded to whole seconds)."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s}s" if s else f"{m}m"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m}m" if m else f"{h}h"
    d, h = divmod(h, 24)
    return f"{d}d{h}h" if h else f"{d}d"


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)


Renderer = Callable[[Any], str]


def compile_template(template: str, resolve: Callable[[str], Callable[[Any], Any]]
                     ) -> Renderer:
    """A function ``render(ctx) -> text`` for ``template``, parsed once.

    ``resolve(name)`` gives, once per placeholder, the function that reads its value
    from the context object passed to ``render``; a missing value renders as ``?``.
    """
    parts: list[str | Callable[[Any], Any]] = []
    pos = 0
    for m in PLACEHOLDER.finditer(template):
        if m.start() > pos:
            parts.append(template[pos:m.start()])
        parts.append(resolve(m.group(1)))
        pos = m.end()
    if pos < len(template):
        parts.append(template[pos:])

    def render(ctx: Any) -> str:
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = part(ctx)
                out.append("?" if value is None else _text(value))
        return "".join(out)

    return render


def default_message(title: str, group: str, count: int, duration: float) -> str:
    """``Title (source.ip=1.2.3.4): 12 events in 3m`` -- for rules without a template."""
    text = title
    if group:
        text += f" ({group})"
    if count > 1:
        text += f": {count} events in {format_duration(duration)}"
    return text
