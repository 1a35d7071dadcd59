"""The daemon's batcher: outlets falling due together share one child crawl."""

from __future__ import annotations

import asyncio

import pytest

from balkanwatch.app import daemon
from balkanwatch.app.daemon import Batcher
from balkanwatch.core.config import Outlet


def outlet(name: str) -> Outlet:
    return Outlet(name=name, homepage=f"https://{name}.example/")


@pytest.fixture(autouse=True)
def short_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(daemon, "BATCH_WINDOW", 0.05)
    monkeypatch.setattr(daemon, "MAX_BATCH", 3)


def test_outlets_due_together_share_a_crawl_and_get_its_result() -> None:
    calls: list[list[str]] = []

    async def run(outlets: list[Outlet]) -> int:
        calls.append([o.name for o in outlets])
        return 0

    async def main() -> list[int | None]:
        b = Batcher(run)
        first = await asyncio.gather(*(b.crawl(outlet(n)) for n in "abcde"))
        later = await b.crawl(outlet("f"))  # after the window: a crawl of its own
        return [*first, later]

    assert asyncio.run(main()) == [0] * 6
    assert calls == [["a", "b", "c"], ["d", "e"], ["f"]]  # at most MAX_BATCH per child


def test_a_failing_crawl_resolves_every_waiting_job() -> None:
    async def run(outlets: list[Outlet]) -> int:
        raise RuntimeError("boom")

    async def main() -> list[int | None]:
        b = Batcher(run)
        return await asyncio.gather(*(b.crawl(outlet(n)) for n in "ab"))

    assert asyncio.run(main()) == [None, None]


def test_cancel_pending_releases_jobs_at_shutdown() -> None:
    async def run(outlets: list[Outlet]) -> int:
        raise AssertionError("no crawl may start after shutdown")

    async def main() -> int | None:
        b = Batcher(run)
        job = asyncio.create_task(b.crawl(outlet("a")))
        await asyncio.sleep(0)
        b.cancel_pending()
        result = await job
        await asyncio.sleep(0.1)  # past the window: nothing ran
        return result

    assert asyncio.run(main()) is None
