"""The test run's start and end (``-p devtools.pytest_plugin`` in pyproject.toml).

pytest-django reads the settings while pytest loads its first conftest files, so the embedded
PostgreSQL must run before that: a wrapper around that hook prepares it first. The embedded
demo server runs in either mode: the tests make the databases that stand in for users' own
there, never on the console's server (which the connection-string guard refuses). At the end,
the run stops the servers it started or took over from a process that is gone (a `make run`
beside the tests keeps its own).
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from devtools import bootstrap, embedded_pg

_started: list[embedded_pg.EmbeddedServer] = []


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> Generator[None]:
    embedded = bootstrap.prepare()
    servers = embedded.servers if embedded is not None else [bootstrap.prepare_demo_server()]
    _started.extend(server for server in servers if server.owned)
    return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    for server in _started:
        embedded_pg.stop(server.data_dir)
