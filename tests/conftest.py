"""Shared fixtures: real servers on loopback (see tests/support.py), closed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support import FixtureSite, SMTPSink


@pytest.fixture
def smtp() -> Iterator[SMTPSink]:
    server = SMTPSink()
    yield server
    server.stop()


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
