"""A one-line template that only puts values in (`"Booking confirmed: {{ venue_name }}"`),
rendered without jinja's per-render machinery.

Every email renders three such lines (its subject and the two that open it) besides its two
bodies. jinja builds a new context for each render (a copy of the values, merged with its
globals), about 11 us a line here, where joining the pieces takes under 1 us. `compile_line`
reads the template with jinja's own parser: where it is literal text and plain `{{ name }}`
lookups only, it returns a `PlainLine` that joins them the way jinja's generated code does (each
value through `str`, with no autoescape), and raises the same `UndefinedError` for a missing
name; anything else (a filter, a condition, an expression) stays a jinja template.
tests/unit/test_email_plain_lines.py holds the two to the same text for every line we send.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import jinja2
from jinja2 import nodes


class Line(Protocol):
    def render(self, values: Mapping[str, Any]) -> str: ...


class PlainLine:
    """Literal text and names, joined; `pieces` are (is_name, text)."""

    def __init__(self, pieces: tuple[tuple[bool, str], ...], globals_: Mapping[str, Any]) -> None:
        self.pieces = pieces
        self.globals = globals_

    def render(self, values: Mapping[str, Any]) -> str:
        out = []
        for is_name, text in self.pieces:
            if not is_name:
                out.append(text)
            elif text in values:
                out.append(str(values[text]))
            elif text in self.globals:
                out.append(str(self.globals[text]))
            else:
                raise jinja2.UndefinedError(f"{text!r} is undefined")
        return "".join(out)


def compile_line(environment: jinja2.Environment, source: str) -> Line:
    """A PlainLine where `source` is text and plain names only, else jinja's template. Only for
    an environment without autoescape or finalize, where jinja writes a value as `str` does."""
    template = environment.from_string(source)
    if environment.autoescape or environment.finalize is not None:
        return template
    body = environment.parse(source).body
    if len(body) != 1 or not isinstance(body[0], nodes.Output):
        return template
    pieces: list[tuple[bool, str]] = []
    for node in body[0].nodes:
        if isinstance(node, nodes.TemplateData):
            pieces.append((False, node.data))
        elif isinstance(node, nodes.Name) and node.ctx == "load":
            pieces.append((True, node.name))
        else:
            return template
    return PlainLine(tuple(pieces), environment.globals)
