"""Shared fixtures: real servers on loopback (see tests/support.py), closed after each test;
a real PostgreSQL server for the tests that run on both backends (see tests/pg.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import pg
from tests.http_capture import SMTPServer, WebhookServer
from tests.support import FixtureSite, SMTPSink

# The backends of the `database` fixture. PostgreSQL's tests carry the `postgres` marker:
# `pytest -m postgres` runs only them, `-m "not postgres"` only the SQLite ones.
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture
def smtp() -> Iterator[SMTPSink]:
    server = SMTPSink()
    yield server
    server.stop()


@pytest.fixture
def mail() -> Iterator[SMTPServer]:
    """An SMTP server that keeps each message with its envelope (tests/http_capture.py)."""
    server = SMTPServer()
    yield server
    server.stop()


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    """A webhook endpoint standing in for Slack and other HTTP services."""
    server = WebhookServer()
    yield server
    server.close()


@pytest.fixture
def make_site() -> Iterator[Callable[[str], FixtureSite]]:
    """A factory of fixture outlets, each on its own loopback address."""
    sites: list[FixtureSite] = []

    def make(host: str) -> FixtureSite:
        sites.append(FixtureSite(host))
        return sites[-1]

    yield make
    for site in sites:
        site.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pg.PostgresServer]:
    """One PostgreSQL cluster for the session. Skipped where PostgreSQL is not installed, but
    never in CI (the CI variable set): there a missing server fails the run."""
    why = pg.missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {why}", pytrace=False)
        pytest.skip(why)
    server = pg.PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: pg.PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; its URL."""
    url = postgres_server.database()
    yield url
    postgres_server.drop(url)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database on each backend: a SQLite file path or a postgresql:// URL."""
    if request.param == "sqlite":
        return str(tmp_path / "bw.db")
    return str(request.getfixturevalue("postgres_url"))
