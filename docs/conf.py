"""Sphinx configuration for the trio-sse documentation.

Build (offline, warnings are errors)::

    sphinx-build -n -W --keep-going -b html docs docs/_build/html

Cross-references to Python, Trio, h11 and trio-websocket go through intersphinx, which
needs the network to fetch the projects' ``objects.inv``. Offline (the default) the
mapping is empty and references into those projects are listed in ``nitpick_ignore_regex``
instead, so ``-n -W`` still passes and still catches broken references to *our* names.
Set ``TRIO_SSE_DOCS_INTERSPHINX=1`` to fetch the inventories and link them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
# Document the source tree even when the package is not installed.
sys.path.insert(0, str(HERE.parent / "src"))

import trio_sse  # noqa: E402

# -- Project ---------------------------------------------------------------------------

project = "trio-sse"
author = "The trio-sse developers"
copyright = "The trio-sse developers"
version = release = trio_sse.__version__

# -- General ---------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinxcontrib_trio",
    "trio_sse_docs",  # docs/_ext/trio_sse_docs.py: the generated reference tables
]

exclude_patterns = ["_build"]
nitpicky = True
default_role = "py:obj"
primary_domain = "py"
highlight_language = "python3"
pygments_style = "default"

# -- autodoc / napoleon ----------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_preprocess_types = True

# -- linkcheck ---------------------------------------------------------------------------
# ``nox -s docs`` also runs ``-b linkcheck``. Offline by default: external URLs are not
# fetched (this project's CI has no internet), so the check covers the local links and
# anchors between pages; set TRIO_SSE_DOCS_LINKCHECK_ONLINE=1 to check the web too.
if os.environ.get("TRIO_SSE_DOCS_LINKCHECK_ONLINE", "") in ("", "0"):
    linkcheck_ignore = [r"^https?://", r"^wss?://", r"^mailto:"]
linkcheck_timeout = 10

# -- intersphinx -----------------------------------------------------------------------

INTERSPHINX = os.environ.get("TRIO_SSE_DOCS_INTERSPHINX", "") not in ("", "0")

intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
if INTERSPHINX:
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "trio": ("https://trio.readthedocs.io/en/stable", None),
        "h11": ("https://h11.readthedocs.io/en/latest", None),
        "trio-websocket": ("https://trio-websocket.readthedocs.io/en/stable", None),
    }

# Private names that appear in public signatures and have no page to link to:
# ``HeadersLike`` (``trio_sse._headers``; the ``headers=`` parameters), ``ResponseChannel``
# (``trio_sse._context``; ``EventStream.__init__``, which only the server calls) and
# ``UseConfig`` (``trio_sse._config``; the type of the default of
# ``EventStreamResponse(heartbeat=...)``).
nitpick_ignore_regex = [
    (r"py:.*", r"trio_sse\._.*"),
    (r"py:.*", r"_\w+"),
    (r"py:class", r"HeadersLike|ResponseChannel|UseConfig"),
    # Bare names from string annotations (``from __future__ import annotations``) whose
    # imports sit under ``if TYPE_CHECKING:``: autodoc cannot qualify them, so they cannot
    # link to any inventory, online or not.
    (
        r"py:.*",
        r"(Mapping|Iterable|Iterator|AsyncIterable|AsyncIterator|AsyncGenerator|Awaitable"
        r"|Callable|Sequence|NoReturn|TypeAlias|Any|AbstractAsyncContextManager"
        r"|TaskStatus|Nursery|Stream|Listener|MemoryReceiveChannel|MemorySendChannel)",
    ),
]
if not INTERSPHINX:
    # Offline: references into the standard library and our dependencies cannot resolve.
    nitpick_ignore_regex += [
        (r"py:.*", r"(trio|h11|trio_websocket|wsproto)(\..*)?"),
        # Any module of the standard library (``functools.partial``, ``collections.abc``).
        (r"py:.*", rf"({'|'.join(sorted(sys.stdlib_module_names))})(\..*)?"),
    ]

# -- HTML ------------------------------------------------------------------------------

html_theme = "furo"
html_title = f"trio-sse {release}"
html_static_path: list[str] = []
