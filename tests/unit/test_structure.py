"""Structural rules of the ``trio_sse`` package, checked on its source with :mod:`ast`.

1. No import cycle among the package's modules. Every import counts: module level,
   function-local, and under ``if TYPE_CHECKING:``. The package root
   (``trio_sse/__init__.py``) re-exports everything, so no other module may import it.
2. No module longer than :data:`MAX_LINES` physical lines.
3. No reach into another object's private attributes (``x._y`` where ``x`` is not
   ``self`` or ``cls``), and no import of another module's private names
   (``from ._x import _Y``; importing a private *module*, ``from . import _x``, is fine).

Each rule is one test that lists every violation (``path:line: what``), so that the list
reads as a to-do list. The checker is plain functions taking a package directory, so the
self-tests at the bottom run them on small fake packages.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import trio_sse

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

PACKAGE_DIR = Path(trio_sse.__file__).parent
MAX_LINES = 450


# -- Reading the package ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Module:
    name: str  # dotted: "trio_sse._events", "trio_sse" for the root __init__.py
    display: str  # the path from the package's parent: "trio_sse/_events.py"
    is_package: bool  # an __init__.py
    source: str
    tree: ast.Module

    @property
    def package(self) -> str:
        """The package that relative imports in this module start from."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


@dataclasses.dataclass(frozen=True)
class Import:
    importer: Module
    target: str  # a dotted module name inside the package
    line: int
    text: str  # the import statement, for messages
    names: tuple[str, ...] = ()  # names taken from target (``from target import names``)
    context: str = ""  # "under TYPE_CHECKING", "in f()", or "" at module level


def load_package(package_dir: Path) -> dict[str, Module]:
    """Parse every ``.py`` file under ``package_dir``, keyed by dotted module name."""
    root = package_dir.name
    modules: dict[str, Module] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir).with_suffix("").parts
        if "__pycache__" in parts:
            continue
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        name = ".".join((root, *parts))
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(path))
        display = path.relative_to(package_dir.parent).as_posix()
        modules[name] = Module(name, display, is_package, source, tree)
    return modules


def where(module: Module, line: int) -> str:
    return f"{module.display}:{line}"


def imports(module: Module, modules: dict[str, Module]) -> Iterator[Import]:
    """Every import in ``module`` that resolves inside the package, wherever it sits.

    ``from X import a`` depends on ``X.a`` if that is a module, else on ``X``; importing
    ``X.Y`` also runs the ``__init__`` of each package on the way (``X``), except the
    packages ``module`` itself lives in, which are already being imported.
    """
    root = module.name.partition(".")[0]
    own = _ancestors(module.name)
    for node, context in _import_statements(module.tree.body, ""):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == root or alias.name.startswith(root + "."):
                    yield from _with_ancestors(
                        module, alias.name, node, (), own=own, context=context
                    )
        else:
            if node.level:
                base = module.package.split(".")
                if node.level - 1 >= len(base):
                    continue  # beyond the top-level package: an ImportError at run time
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            elif node.module and (node.module == root or node.module.startswith(root + ".")):
                target = node.module
            else:
                continue  # the standard library or a third-party package: out of scope
            plain: list[str] = []
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in modules:
                    yield from _with_ancestors(
                        module, submodule, node, (), own=own, context=context
                    )
                else:
                    plain.append(alias.name)
            if plain:
                yield from _with_ancestors(
                    module, target, node, tuple(plain), own=own, context=context
                )


def _import_statements(
    nodes: Iterable[ast.AST], context: str
) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement in ``nodes``, with where it sits (for messages)."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, context
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _import_statements(
                ast.iter_child_nodes(node), context or f"in {node.name}()"
            )
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _import_statements(node.body, context or "under TYPE_CHECKING")
            yield from _import_statements(node.orelse, context)
        else:
            yield from _import_statements(ast.iter_child_nodes(node), context)


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    if isinstance(test, ast.Attribute):
        return test.attr == "TYPE_CHECKING"
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _ancestors(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def _with_ancestors(
    module: Module,
    target: str,
    node: ast.stmt,
    names: tuple[str, ...],
    *,
    own: set[str],
    context: str,
) -> Iterator[Import]:
    text = ast.unparse(node)
    for package in sorted(_ancestors(target) - own - {target}):
        yield Import(module, package, node.lineno, text, (), context)
    yield Import(module, target, node.lineno, text, names, context)


def _describe(imp: Import) -> str:
    """``path:line: statement``, and where it sits unless at module level."""
    found = f"{where(imp.importer, imp.line)}: {imp.text}"
    return f"{found}  ({imp.context})" if imp.context else found


# -- Rule 1: no import cycle ----------------------------------------------------------------


def find_import_cycles(package_dir: Path) -> list[str]:
    """Imports of the package root by its modules, and every import cycle, with locations."""
    modules = load_package(package_dir)
    root = package_dir.name
    problems: list[str] = []
    graph: dict[str, dict[str, list[Import]]] = {name: {} for name in modules}
    for module in modules.values():
        for imp in imports(module, modules):
            if imp.target == root:
                if module.name != root:
                    problems.append(
                        f"{_describe(imp)}: imports the package root ({root}/__init__.py"
                        " imports every module, so this is a cycle)"
                    )
                continue
            graph[module.name].setdefault(imp.target, []).append(imp)
    for group in _strongly_connected(graph):
        cycle = _shortest_cycle(graph, group)
        lines = [f"import cycle: {' -> '.join(cycle)}"]
        if len(group) > len(cycle) - 1:
            lines.append(f"  (one of the cycles among {', '.join(sorted(group))})")
        inside = [imp for name in group for target in group for imp in graph[name].get(target, [])]
        inside.sort(key=lambda imp: (imp.importer.name, imp.line, imp.target))
        lines.extend("    " + _describe(imp) for imp in inside)
        problems.append("\n".join(dict.fromkeys(lines)))  # one line per statement
    return problems


def _strongly_connected(graph: dict[str, dict[str, list[Import]]]) -> list[set[str]]:
    """Tarjan's algorithm: the groups of modules that import each other (size > 1, or a
    module that imports itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for target in graph.get(name, {}):
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in on_stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            group: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == name:
                    break
            if len(group) > 1 or name in graph.get(name, {}):
                groups.append(group)

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return sorted(groups, key=sorted)


def _shortest_cycle(graph: dict[str, dict[str, list[Import]]], group: set[str]) -> list[str]:
    """A shortest cycle through the first module of ``group``, as a path ending where it began."""
    start = min(group)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for name in frontier:
            for target in sorted(graph.get(name, {})):
                if target == start:
                    path = [name]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if target in group and target not in previous:
                    previous[target] = name
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle in {group}")  # pragma: no cover - group is cyclic


# -- Rule 2: module length ------------------------------------------------------------------


def physical_lines(source: str) -> int:
    """Lines as an editor counts them: CRLF, CR or LF ends one (not form feeds etc.)."""
    text = source.replace("\r\n", "\n").replace("\r", "\n")
    return text.count("\n") + (not text.endswith("\n") and bool(text))


def find_long_modules(package_dir: Path, max_lines: int = MAX_LINES) -> list[str]:
    problems = []
    for module in load_package(package_dir).values():
        count = physical_lines(module.source)
        if count > max_lines:
            problems.append(f"{where(module, 1)}: {count} lines (at most {max_lines})")
    return problems


# -- Rule 3: private names ------------------------------------------------------------------


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def find_private_access(package_dir: Path) -> list[str]:
    """``x._y`` on anything but ``self``/``cls``, and imports of other modules' ``_names``."""
    modules = load_package(package_dir)
    problems: list[tuple[str, int, str]] = []
    for module in modules.values():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Attribute) and _is_private(node.attr):
                value = node.value
                if isinstance(value, ast.Name) and value.id in ("self", "cls"):
                    continue
                problems.append(
                    (
                        module.display,
                        node.lineno,
                        f"{where(module, node.lineno)}: uses private attribute"
                        f" {ast.unparse(node)!r}",
                    )
                )
        for imp in imports(module, modules):
            for name in imp.names:
                if _is_private(name):
                    message = f"{where(module, imp.line)}: imports {name!r} from {imp.target}"
                    if imp.context:
                        message += f"  ({imp.context})"
                    problems.append((module.display, imp.line, message))
    return [message for _, _, message in sorted(problems)]


# -- The rules, on trio_sse -----------------------------------------------------------------


def _report(title: str, problems: list[str]) -> str:
    return f"{len(problems)} {title}:\n" + "\n".join(problems)


def test_no_import_cycles() -> None:
    problems = find_import_cycles(PACKAGE_DIR)
    assert not problems, _report("import problems", problems)


def test_no_module_is_too_long() -> None:
    problems = find_long_modules(PACKAGE_DIR)
    assert not problems, _report(f"modules over {MAX_LINES} lines", problems)


def test_no_reach_into_private_names() -> None:
    problems = find_private_access(PACKAGE_DIR)
    assert not problems, _report("uses of another object's private names", problems)


# -- The checker, on fake packages ----------------------------------------------------------


def make_package(tmp_path: Path, files: dict[str, str], name: str = "pkg") -> Path:
    package_dir = tmp_path / name
    for relative, source in files.items():
        path = package_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return package_dir


CLEAN = {
    "__init__.py": "from ._a import A as A\nfrom ._b import B as B\nfrom . import _sub\n",
    "_a.py": "import os\nfrom typing import TYPE_CHECKING\nclass A:\n    pass\n",
    "_b.py": (
        "from typing import TYPE_CHECKING\n"
        "from . import _a\n"
        "from ._a import A\n"
        "from ._sub._m import M\n"
        "class B(A):\n"
        "    _n = 0\n"
        "    def __init__(self) -> None:\n"
        "        self._x = _a.A.__name__\n"
        "        self.__dict__\n"
        "    @classmethod\n"
        "    def make(cls) -> int:\n"
        "        return cls._n\n"
    ),
    "_sub/__init__.py": "from ._m import M as M\nfrom . import _m\n",
    "_sub/_m.py": "from .._a import A\nfrom . import _n\nclass M(A):\n    pass\n",
    "_sub/_n.py": "import pkg._a\nfrom pkg._a import A\n",
    "big.py": "x = 1\n" * MAX_LINES,
}


def test_checker_passes_a_clean_package(tmp_path: Path) -> None:
    package_dir = make_package(tmp_path, CLEAN)
    assert find_import_cycles(package_dir) == []
    assert find_long_modules(package_dir) == []
    assert find_private_access(package_dir) == []


def test_checker_finds_a_cycle_through_type_checking_and_a_function(tmp_path: Path) -> None:
    package_dir = make_package(
        tmp_path,
        {
            "__init__.py": "from ._a import A as A\n",
            "_a.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from ._b import B\n"
                "class A:\n"
                "    pass\n"
            ),
            "_b.py": "def f() -> None:\n    from ._c import C\n",
            "_c.py": "from ._a import A\nC = A\n",
            "_d.py": "from ._d import x\n",
        },
    )
    problems = find_import_cycles(package_dir)
    assert len(problems) == 2, problems
    assert problems[0].splitlines() == [
        "import cycle: pkg._a -> pkg._b -> pkg._c -> pkg._a",
        "    pkg/_a.py:3: from ._b import B  (under TYPE_CHECKING)",
        "    pkg/_b.py:2: from ._c import C  (in f())",
        "    pkg/_c.py:1: from ._a import A",
    ]
    assert problems[1].splitlines()[0] == "import cycle: pkg._d -> pkg._d"


def test_checker_finds_a_cycle_through_a_subpackage_init(tmp_path: Path) -> None:
    package_dir = make_package(
        tmp_path,
        {
            "__init__.py": "",
            "_demo/__init__.py": "from .app import run as run\nHELP_TEXT = 'help'\n",
            "_demo/app.py": "from . import helper\nfrom .helper import HELP\ndef run(): pass\n",
            "_demo/helper.py": "from ._consts import HELP\n",
            "_demo/_consts.py": "from . import HELP_TEXT\n",  # a name from _demo/__init__
        },
    )
    assert find_import_cycles(package_dir) == [
        "import cycle: pkg._demo -> pkg._demo.app -> pkg._demo.helper -> pkg._demo._consts"
        " -> pkg._demo\n"
        "    pkg/_demo/__init__.py:1: from .app import run as run\n"
        "    pkg/_demo/_consts.py:1: from . import HELP_TEXT\n"
        "    pkg/_demo/app.py:1: from . import helper\n"
        "    pkg/_demo/app.py:2: from .helper import HELP\n"
        "    pkg/_demo/helper.py:1: from ._consts import HELP"
    ]


def test_checker_counts_the_init_of_an_imported_subpackage(tmp_path: Path) -> None:
    # Importing pkg._demo.app runs pkg/_demo/__init__.py first, which imports _server.
    package_dir = make_package(
        tmp_path,
        {
            "__init__.py": "",
            "_server.py": "from ._demo.app import run\n",
            "_demo/__init__.py": "from .._server import serve\n",
            "_demo/app.py": "def run(): pass\n",
        },
    )
    assert find_import_cycles(package_dir) == [
        "import cycle: pkg._demo -> pkg._server -> pkg._demo\n"
        "    pkg/_demo/__init__.py:1: from .._server import serve\n"
        "    pkg/_server.py:1: from ._demo.app import run"
    ]


@pytest.mark.parametrize(
    "source",
    [
        "import pkg\n",
        "from pkg import A\n",
        "from . import A\n",
        "def f():\n    from pkg import A\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import A\n",
        "import typing\nif typing.TYPE_CHECKING:\n    pass\nelse:\n    import pkg\n",
    ],
)
def test_checker_finds_imports_of_the_root(tmp_path: Path, source: str) -> None:
    package_dir = make_package(
        tmp_path, {"__init__.py": "from ._a import A as A\n", "_a.py": "A = 1\n", "_b.py": source}
    )
    problems = find_import_cycles(package_dir)
    assert len(problems) == 1, problems
    assert problems[0].startswith("pkg/_b.py:")
    assert "imports the package root" in problems[0]


def test_checker_finds_long_modules(tmp_path: Path) -> None:
    package_dir = make_package(
        tmp_path,
        {
            "__init__.py": "",
            "ok.py": "\n" * MAX_LINES,
            "long.py": "x = 1\n" * MAX_LINES + "y = 2",  # no final newline: still a line
            "_sub/__init__.py": "",
            "_sub/long.py": "x = 1\r\n" * (MAX_LINES + 1),
            "_static/app.js": "x\n" * 1000,  # not Python
        },
    )
    assert find_long_modules(package_dir) == [
        f"pkg/_sub/long.py:1: {MAX_LINES + 1} lines (at most {MAX_LINES})",
        f"pkg/long.py:1: {MAX_LINES + 1} lines (at most {MAX_LINES})",
    ]
    assert physical_lines("a\fb\u2028c\n") == 1


def test_checker_finds_private_access(tmp_path: Path) -> None:
    package_dir = make_package(
        tmp_path,
        {
            "__init__.py": "",
            "_a.py": "_P = 1\nclass _Q:\n    pass\nPublic = 2\n",
            "_b.py": (
                "import sys\n"
                "from os import _exit\n"  # outside the package: out of scope
                "from ._a import Public, _P\n"
                "from . import _a\n"
                "def f(conn, self):\n"
                "    conn._counters\n"
                "    self._ok.__len__\n"
                "    self._ok._nested\n"
                "    sys._getframe()\n"
                "    _a._Q\n"
                "    conn.__private\n"
                "    super()._base()\n"
            ),
            "_sub/__init__.py": "",
            "_sub/m.py": "def g():\n    from .._a import _Q as Q\n",
        },
    )
    assert find_private_access(package_dir) == [
        "pkg/_b.py:3: imports '_P' from pkg._a",
        "pkg/_b.py:6: uses private attribute 'conn._counters'",
        "pkg/_b.py:8: uses private attribute 'self._ok._nested'",
        "pkg/_b.py:9: uses private attribute 'sys._getframe'",
        "pkg/_b.py:10: uses private attribute '_a._Q'",
        "pkg/_b.py:11: uses private attribute 'conn.__private'",
        "pkg/_b.py:12: uses private attribute 'super()._base'",
        "pkg/_sub/m.py:2: imports '_Q' from pkg._a  (in g())",
    ]
