"""Every routine command: nox -s tests | unit | lint | typecheck | demo | bench."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
PYPROJECT = nox.project.load_toml("pyproject.toml")


def install(session: nox.Session, *groups: str) -> None:
    session.install("-e", ".")
    for group in groups:
        session.install(*nox.project.dependency_groups(PYPROJECT, group))


PARALLEL = ("-n", "2", "--dist", "loadgroup", "--no-loadscope-reorder")
"""Two workers; tests that share a local stack or in-memory records share one, and the groups go out in the
order tests/conftest.py gives them (the long e2e ones first), not by their number of tests."""


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (unit, Pulumi mocks, handlers on moto, end to end on the local stack)."""
    install(session, "test")
    session.run("pytest", *PARALLEL, *session.posargs)


@nox.session(default=False)
def unit(session: nox.Session) -> None:
    """The tests that start no local stack (core, handlers and clients on moto in-process, Pulumi mocks)."""
    install(session, "test")
    session.run("pytest", "-m", "unit", *PARALLEL, *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff on everything."""
    session.install("ruff")
    session.run("ruff", "check", ".", *session.posargs)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on core/, handlers/ and clients/."""
    install(session, "lint")
    session.run("mypy", *session.posargs)


@nox.session(default=False)
def demo(session: nox.Session) -> None:
    """The whole pipeline on generated sample data, on the local stack."""
    install(session, "local")
    session.run("python", "-m", "local.demo", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks side by side (core vs naive vs pandas vs DuckDB); `-- --output docs/benchmarks.md` to publish."""
    install(session, "bench")
    session.run("python", "-m", "local.bench", *session.posargs)
