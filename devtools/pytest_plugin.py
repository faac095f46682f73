"""The test run's start and end in the embedded mode (``-p devtools.pytest_plugin`` in pyproject.toml).

pytest-django reads the settings while pytest loads its first conftest files, so the embedded
PostgreSQL must run before that: a wrapper around that hook prepares it first. At the end, the
run stops the server if it started it (a `make run` beside the tests keeps its own).
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from devtools import bootstrap, embedded_pg

_started: embedded_pg.EmbeddedServer | None = None


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> Generator[None]:
    global _started
    server = bootstrap.prepare()
    if server is not None and server.started_here:
        _started = server
    return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _started is not None:
        embedded_pg.stop(_started.data_dir)
