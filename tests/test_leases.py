"""Leases on alerts: who holds one, when a restart may take it over, and that it never runs out
while its holder is still sending.

Holders that cannot be started here (PID 1 of an earlier boot, a process on another host or in
another container) are written into the row as those processes would have written them: a store
whose holder identity is theirs claims the row, through the ordinary `Store.claim`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from balkanwatch.delivery import alerts
from balkanwatch.storage.holder import Holder, start_ticks, this_holder
from balkanwatch.storage.store import Store
from tests import test_alerts
from tests.http_capture import SMTPServer
from tests.support import ROOT
from tests.test_alerts import World

T0 = 1_800_000_000.0
LEASE = 300.0
make_world = test_alerts.make_world  # a fixture


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Connections to one database holding one pending alert (id 1)."""
    stores: list[Store] = []

    def connect() -> Store:
        stores.append(Store(tmp_path / "bw.db"))
        return stores[-1]

    first = connect()
    row = {"subscriber": "desk", "kind": "operator", "dedup_key": "op:1", "payload": "{}"}
    assert first.queue_alert(row)
    yield connect
    for store in stores:
        store.close()


def leased_by(connect: Callable[[], Store], holder: Holder) -> str:
    """Claim alert 1 as `holder` (at T0, for LEASE seconds); its owner string."""
    store = connect()
    store.holder = holder
    assert store.claim(1, T0, LEASE)
    return holder.token


def dead_pid() -> int:
    """The PID of a process of ours that has ended (and was reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert start_ticks(proc.pid) is None
    return proc.pid


ME = this_holder()
OTHER_BOOT = str(uuid.uuid4())

# (holder, provably gone?) for every kind of holder a restart meets.
HOLDERS: dict[str, tuple[Callable[[], Holder], bool]] = {
    "a live process here": (lambda: replace(ME, nonce="other"), False),
    "a dead PID here": (lambda: replace(ME, pid=dead_pid(), started="1"), True),
    "a reused PID here": (lambda: replace(ME, started=str(int(ME.started) + 1)), True),
    "PID 1 of this boot, alive": (lambda: replace(ME, pid=1, started=start_ticks(1) or "?"), False),
    "PID 1 of another boot": (lambda: replace(ME, pid=1, boot=OTHER_BOOT, started="1"), True),
    "another hostname": (
        lambda: replace(ME, hostname="crawler-2", machine="f" * 32, boot=OTHER_BOOT, pid=1),
        False,
    ),
    # Containers of one image share its machine id: only the hostname tells the machines apart.
    "another host sharing an image's machine id": (
        lambda: replace(ME, hostname="crawler-2", boot=OTHER_BOOT, pid=dead_pid()),
        False,
    ),
    # Another container on this kernel: same boot, maybe the same hostname (host networking),
    # but its own PID namespace, where a PID is not ours to look up.
    "another container on this kernel": (
        lambda: replace(ME, pidns="pid:[1]", pid=dead_pid()),
        False,
    ),
}


@pytest.mark.parametrize("kind", list(HOLDERS))
def test_a_restart_takes_over_at_once_only_what_a_provably_dead_holder_leased(
    db: Callable[[], Store], kind: str
) -> None:
    make, gone = HOLDERS[kind]
    owner = leased_by(db, make())
    restarted = db()
    assert restarted.holder.sees_gone(owner) is gone
    assert restarted.claim(1, T0 + 5, LEASE) is gone
    # Whoever held it, the lease ends when it runs out.
    assert restarted.claim(1, T0 + LEASE + 1, LEASE)
    assert (
        restarted.rows("SELECT lease_owner FROM alerts")[0]["lease_owner"] == restarted.lease_owner
    )


HOLD_LEASE = """
import sys
from balkanwatch.storage.store import Store
assert Store(sys.argv[1]).claim(1, float(sys.argv[2]), lease=300)
print("held", flush=True)
sys.stdin.read()
"""


def test_a_lease_of_a_killed_process_is_taken_over_at_once_and_a_live_ones_respected(
    db: Callable[[], Store], tmp_path: Path
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LEASE, str(tmp_path / "bw.db"), str(T0)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        restarted = db()
        assert not restarted.claim(1, T0 + 1, LEASE)  # alive: respected
        holder.kill()
        holder.wait()
        assert restarted.claim(1, T0 + 2, LEASE)  # killed: taken over at once
    finally:
        holder.kill()
        holder.communicate()


@pytest.mark.parametrize(("pid", "gone"), [(None, True), (1, False)])
def test_a_release_0_1_owner_is_read_with_that_releases_rule(
    db: Callable[[], Store], pid: int | None, gone: bool
) -> None:
    owner = f"{ME.hostname}:{pid or dead_pid()}:abcdef"
    assert db().holder.sees_gone(owner) is gone
    assert not ME.sees_gone(f"elsewhere:{pid or dead_pid()}:abcdef")


def test_the_owner_string_round_trips_and_names_this_process() -> None:
    me = this_holder()
    assert Holder.parse(me.token) == me
    assert (me.pid, me.started) == (os.getpid(), start_ticks(os.getpid()))
    assert me.token != this_holder().token  # each connection is a holder of its own
    assert Holder.parse("h2|only|four|fields") is None


# -- a lease never runs out while its holder is sending ----------------------------------------


class SlowSMTP(SMTPServer):
    """Answers DATA only after `delay` seconds: a send longer than the lease."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        super().__init__()

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        server = self

        class Handler:
            async def handle_DATA(self, _: Any, __: Any, envelope: Any) -> str:  # noqa: N802
                await asyncio.sleep(server.delay)
                server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()


@pytest.mark.parametrize("renewed", [True, False])
def test_a_lease_is_renewed_for_as_long_as_the_send_takes(
    make_world: Callable[..., World],
    monkeypatch: pytest.MonkeyPatch,
    renewed: bool,
) -> None:
    """A one-second lease and a send of three: the holder renews it, so a second deliverer that
    keeps trying meanwhile never gets the row. Without renewal (the control) it gets it once the
    second has passed and sends a second copy: the test can tell the difference."""
    monkeypatch.setattr(alerts, "LEASE", 1.0)
    monkeypatch.setattr(alerts, "RENEW_EVERY", 0.2 if renewed else 60.0)
    smtp = SlowSMTP(delay=3.0)
    try:
        world = make_world([{"name": "desk", "urls": [smtp.url()]}])
        world.ingest("police", "Kosovo police patrol the north")
        second = alerts.Deliverer(world.store, world.config)
        attempts: list[int] = []

        def send_first() -> None:
            store = Store(world.config.database)  # a connection of its own, in its thread
            try:
                asyncio.run(alerts.Deliverer(store, world.config).deliver_due())
            finally:
                store.close()

        sending = threading.Thread(target=send_first)
        sending.start()
        time.sleep(0.3)  # the first has claimed the row and is in the SMTP dialogue
        while sending.is_alive():
            time.sleep(0.25)
            attempts.append(asyncio.run(second.deliver_due()).attempted)
        sending.join()
    finally:
        smtp.stop()
    if renewed:
        assert sum(attempts) == 0 and len(attempts) >= 4  # it kept trying
        assert len(smtp.envelopes) == 1
    else:
        assert sum(attempts) == 1 and len(smtp.envelopes) == 2
    assert world.alerts()[0]["status"] == "sent"


def test_apprise_waits_for_a_send_however_long_it_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    """apprise stops waiting for a service after its `service_timeout` (60 s by default) and
    leaves the send running in a worker thread, which could deliver after the lease was taken
    over. Ours is off: with apprise's default shortened to 1 s, a 3 s send is still waited for
    and reported as delivered."""
    import apprise

    from balkanwatch.delivery.render import Message

    monkeypatch.setattr(apprise.AppriseAsset, "_service_timeout", 1.0)
    smtp = SlowSMTP(delay=3.0)
    try:
        started = time.monotonic()
        error = asyncio.run(alerts.apprise_send(smtp.url(), Message("s", "t", "<p>t</p>", "t")))
        took = time.monotonic() - started
    finally:
        smtp.stop()
    assert error is None and took >= 3.0 and len(smtp.envelopes) == 1
