"""Development sessions for trio-sse: ``nox -l`` lists them, ``nox`` runs the defaults.

The defaults are what CI runs (``.ci/run``): the test matrix (Python 3.10-3.13 x the
``latest`` and ``lowest`` dependency sets), lint, typecheck, examples, docs and e2e (a
real browser). Missing interpreters are skipped locally but are an error when ``CI`` is
set. ``bench`` and ``bench_peers`` run only on demand.
"""

from __future__ import annotations

import os
import shutil
import sys

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = bool(os.environ.get("CI"))

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
DEFAULT_PYTHON = "3.11"
REDIS_LOWEST = ["coredis==6.9.0", "anyio==4.11.0", "trio==0.31.0"]


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


def _apt_install(session: nox.Session, package: str, binary: str) -> None:
    """Install Debian's *package* with apt-get (sudo unless root) when *binary* is missing."""
    if shutil.which(binary) is not None:
        return
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "apt-get"]
    session.run(*apt, "update", "-qq", external=True)
    session.run(
        *apt,
        "install",
        "-y",
        "-qq",
        package,
        external=True,
        env={"DEBIAN_FRONTEND": "noninteractive"},
    )


@nox.session(python=PYTHONS)
@nox.parametrize("deps", ["latest", "lowest"])
def tests(session: nox.Session, deps: str) -> None:
    """Run the test suite with branch coverage (deps: latest, or the declared floors).

    On Linux, Debian's nghttp2-client (``h2load``, for tests/loopback/test_http2_clients.py)
    is installed when missing.
    """
    if sys.platform == "linux":
        _apt_install(session, "nghttp2-client", "h2load")
    session.install("-e", ".", *_group("test"))
    if deps == "lowest":
        session.install(*_group("lowest"))
    session.env["COVERAGE_FILE"] = os.path.join(session.create_tmp(), ".coverage")
    session.env["COVERAGE_PROCESS_START"] = os.path.abspath("pyproject.toml")
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", "pytest", "-p", "no:cacheprovider", *session.posargs)
    if deps == "lowest" and not session.posargs:
        # The redis extra has floors of its own (coredis 6.9 needs anyio 4.11, which needs
        # trio 0.31): test them too, on top of the core floors above.
        session.install(*REDIS_LOWEST)
        redis_tests = "tests/loopback/test_redis.py"
        session.run("coverage", "run", "-m", "pytest", "-p", "no:cacheprovider", redis_tests)
    session.run("coverage", "combine", "--quiet")
    session.run("coverage", "report", "--fail-under=90")


@nox.session(python=DEFAULT_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check (with flake8-async's Trio rules) and ruff format --check."""
    session.install(*_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=DEFAULT_PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over src/, tests/, examples/ and this file."""
    session.install("-e", ".", *_group("typecheck"), "nox")
    session.run("mypy", *session.posargs)


@nox.session(python=DEFAULT_PYTHON)
def e2e(session: nox.Session) -> None:
    """Browser tests: Debian's chromium (installed when missing) driven by Playwright."""
    _apt_install(session, "chromium", "chromium")
    session.install("-e", ".", *_group("e2e"))
    session.run("pytest", "-p", "no:cacheprovider", "-m", "e2e", "tests/e2e", *session.posargs)


@nox.session(python=DEFAULT_PYTHON)
def examples(session: nox.Session) -> None:
    """Start every example on port 0 and talk to it (smoke tests)."""
    session.install("-e", ".", *_group("test"))
    session.run(
        "pytest", "-p", "no:cacheprovider", "tests/loopback/test_examples.py", *session.posargs
    )


@nox.session(python=DEFAULT_PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks (loopback only, bounded in time): the disconnect storm and cycle leak check."""
    session.install("-e", ".")
    session.run("python", "benchmarks/disconnect_storm.py", *session.posargs)


@nox.session(python=DEFAULT_PYTHON, default=False)
def bench_peers(session: nox.Session) -> None:
    """trio-sse against its peers and its earlier builds: benchmarks/compare.py.

    Peers: hypercorn-trio, uvicorn (httptools), uvicorn-h11 and aiohttp. An earlier build of
    trio-sse runs beside them with ``-- --baseline PATH`` (a checkout of it) or ``--
    --baseline-rev REV`` (a temporary git worktree), as ``trio-sse@<short SHA>``; it uses
    this session's venv, its own ``src/`` first on ``PYTHONPATH``.

    Loopback only, bounded in time (about 12 minutes for 3 rounds, 15 with a baseline;
    ``-- --quick`` for a smoke run of a few minutes, ``--servers`` for fewer servers).
    Arguments after ``--`` go to compare.py. Linux only: it pins with ``taskset`` and reads
    ``/proc``; the plain scenario needs Debian's ``wrk`` (``apt-get install -y wrk``), the
    others a C compiler for benchmarks/loadclient.c, the baselines ``git``.
    """
    session.install("-e", ".", *_group("bench"))
    session.run("python", "benchmarks/compare.py", *session.posargs)


@nox.session(python=DEFAULT_PYTHON)
def docs(session: nox.Session) -> None:
    """Build the Sphinx site with warnings as errors (offline-safe)."""
    session.install("-e", ".", *_group("docs"))
    session.run(
        "sphinx-build",
        "-n",
        "-W",
        "--keep-going",
        "-b",
        "html",
        "docs",
        "docs/_build/html",
        *session.posargs,
    )
    # Offline-safe link check: local links and anchors (see docs/conf.py, linkcheck).
    session.run("sphinx-build", "-q", "-W", "-b", "linkcheck", "docs", "docs/_build/linkcheck")
