"""Sphinx directives that generate reference tables from the code, so they cannot drift.

``.. trio-sse-config-table::``
    One row per field of :class:`trio_sse.Config`: name, type, default, and the field's
    description from the ``Attributes:`` section of the class docstring (the single place
    each setting is documented, as ``_config.py`` promises).

``.. trio-sse-websocket-options-table::``
    The same for :class:`trio_sse.WebSocketOptions`, the settings of a WebSocket route.

``.. trio-sse-broadcaster-table::``
    One row per keyword argument of :class:`trio_sse.Broadcaster`: name, default, and
    its description from the ``Args:`` section of the class docstring.

``.. trio-sse-metrics-table::``
    One row per metric that :func:`trio_sse.metrics.render_prometheus` writes: name, type,
    help.
    The rows come from rendering a :class:`trio_sse.ServerStatistics` of zeros (with one
    status code, so the labelled metric shows its label), i.e. from the public function
    itself.

All fail the build (an extension error, not a warning) if the code and the docstring
disagree, e.g. a field without a description.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import TYPE_CHECKING, Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.errors import ExtensionError
from sphinx.util.docutils import SphinxDirective

from trio_sse import Broadcaster, Config, ServerStatistics, WebSocketOptions
from trio_sse.metrics import render_prometheus

if TYPE_CHECKING:
    from sphinx.application import Sphinx

_ITEM = re.compile(r"^(\w+):\s*(.*)$")


def parse_attributes_section(doc: str, section: str = "Attributes") -> dict[str, str]:
    """Return ``{name: description}`` from a Google-style section (``Attributes:``)."""
    lines = inspect.cleandoc(doc).splitlines()
    items: dict[str, list[str]] = {}
    current: list[str] | None = None
    inside = False
    item_indent: int | None = None
    for line in lines:
        if not inside:
            inside = line.strip() == f"{section}:"
            continue
        if line and not line[0].isspace():
            break  # the next section (or text after the list) ends it
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if item_indent is None:
            item_indent = indent
        match = _ITEM.match(line.strip())
        if indent == item_indent and match:
            current = items.setdefault(match.group(1), [])
            current.append(match.group(2))
        elif current is not None:
            current.append(line.strip())
    return {name: " ".join(text) for name, text in items.items()}


def _format_default(name: str, value: object, *, in_bytes: bool = False) -> str:
    if value is None:
        return "``None``"
    if isinstance(value, bool):  # (before int: a bool is an int)
        return f"``{value}``"
    if isinstance(value, int) and (in_bytes or name.endswith("_bytes")):
        for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
            if value % size == 0:
                return f"``{value}`` ({value // size} {unit})"
        return f"``{value}``"
    if isinstance(value, float):
        return f"``{value!r}`` s"
    if isinstance(value, int):
        return f"``{value:_}``"
    return f"``{value!r}``"


def _list_table(header: list[str], rows: list[list[str]], widths: str) -> list[str]:
    out = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [header, *rows]:
        first = True
        for cell in row:
            prefix = "   * - " if first else "     - "
            out.append(prefix + cell)
            first = False
    return out


class _TableDirective(SphinxDirective):
    has_content = False

    def rows_rst(self) -> list[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(self.rows_rst(), source="<generated>"), 0, container)
        children: list[nodes.Node] = list(container.children)
        return children


class _DataclassTable(_TableDirective):
    """One row per field of a dataclass, described under ``Attributes:`` in its docstring."""

    cls: type
    size_fields: frozenset[str] = frozenset()  # int fields counted in bytes (KiB, MiB)

    def rows_rst(self) -> list[str]:
        name = self.cls.__name__
        docs = parse_attributes_section(self.cls.__doc__ or "")
        rows: list[list[str]] = []
        for field in dataclasses.fields(self.cls):
            if field.name not in docs:
                raise ExtensionError(f"{name}.{field.name} has no entry under 'Attributes:'")
            type_text = field.type if isinstance(field.type, str) else repr(field.type)
            default = _format_default(
                field.name, field.default, in_bytes=field.name in self.size_fields
            )
            rows.append([f"``{field.name}``", f"``{type_text}``", default, docs[field.name]])
        extra = set(docs) - {f.name for f in dataclasses.fields(self.cls)}
        if extra:
            raise ExtensionError(f"{name} docstring documents unknown fields: {sorted(extra)}")
        return _list_table(["Field", "Type", "Default", "Meaning"], rows, "18 12 14 56")


class ConfigTable(_DataclassTable):
    """The table of :class:`trio_sse.Config` fields."""

    cls = Config


class WebSocketOptionsTable(_DataclassTable):
    """The table of :class:`trio_sse.WebSocketOptions` fields."""

    cls = WebSocketOptions
    size_fields = frozenset({"max_message_size"})


class BroadcasterTable(_TableDirective):
    """The table of :class:`trio_sse.Broadcaster` arguments."""

    def rows_rst(self) -> list[str]:
        docs = parse_attributes_section(Broadcaster.__doc__ or "", "Args")
        rows: list[list[str]] = []
        for param in inspect.signature(Broadcaster).parameters.values():
            if param.name not in docs:
                raise ExtensionError(f"Broadcaster({param.name}=...) is not under 'Args:'")
            default = "random" if param.default is None else _format_default("", param.default)
            rows.append([f"``{param.name}``", default, docs[param.name]])
        return _list_table(["Argument", "Default", "Meaning"], rows, "18 14 68")


class MetricsTable(_TableDirective):
    """The table of Prometheus metrics written by :func:`trio_sse.metrics.render_prometheus`."""

    def rows_rst(self) -> list[str]:
        # Every counter defaults to zero; one status code shows the label of the one
        # labelled metric (a dict field, rendered with one sample per key).
        stats = ServerStatistics()
        for field in dataclasses.fields(ServerStatistics):
            if isinstance(getattr(stats, field.name), dict):
                setattr(stats, field.name, {200: 0})
        text = render_prometheus(stats)
        helps: dict[str, str] = {}
        kinds: dict[str, str] = {}
        labelled: set[str] = set()
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name, _, help_text = line[len("# HELP ") :].partition(" ")
                helps[name] = help_text
            elif line.startswith("# TYPE "):
                name, _, kind = line[len("# TYPE ") :].partition(" ")
                kinds[name] = kind
            elif "{" in line:
                labelled.add(line.split("{", 1)[0])
        rows = []
        for name, help_text in helps.items():
            shown = f'{name}{{status="..."}}' if name in labelled else name
            rows.append([f"``{shown}``", kinds.get(name, "untyped"), help_text])
        if not rows:
            raise ExtensionError("render_prometheus() wrote no metrics")
        return _list_table(["Metric", "Type", "Help"], rows, "45 10 45")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("trio-sse-config-table", ConfigTable)
    app.add_directive("trio-sse-websocket-options-table", WebSocketOptionsTable)
    app.add_directive("trio-sse-broadcaster-table", BroadcasterTable)
    app.add_directive("trio-sse-metrics-table", MetricsTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
