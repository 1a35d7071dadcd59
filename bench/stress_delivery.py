"""Stress: kill the deliverer at random moments of delivery, restart it, count what went wrong.

    .venv/bin/python bench/stress_delivery.py [--kills 20] [--quit-kills 10] [--stories 8]

Part 1, e-mail. Each round queues `--stories` alerts in a fresh database (through the real
ingester), starts a deliverer process (`Deliverer.deliver_due`, as `scrapy crawl` and the daemon
run it) against a real SMTP server on loopback, SIGKILLs its process group at a random moment of
the delivery (uniform over the time an unkilled delivery takes), then starts a second deliverer
at once and lets it finish. Reported: stories that arrived twice, how many of those copies share
one Message-ID, and alerts still pending after the restart (the restart must take over the dead
process's lease at once), with the SMTP phase each kill landed in. Random moments rarely hit
the few milliseconds between the server's 250 and the commit, so `--quit-kills` more rounds kill
at the QUIT of a random message: there every kill leaves a delivered, unrecorded message.

Part 2, Slack (a service with no idempotency key): the window in which a crash repeats a message
is from the service taking the message to the commit of `delivered`. Measured with apprise's
Slack plugin posting to a loopback HTTP server that stands in for hooks.slack.com (the plugin's
webhook address is pointed at it; nothing else changes), and for comparison the same window for
e-mail (250 to DATA -> commit, which includes the QUIT exchange).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from balkanwatch.analysis.topics import TopicMatcher  # noqa: E402
from balkanwatch.core.config import load_config  # noqa: E402
from balkanwatch.core.document import Document  # noqa: E402
from balkanwatch.delivery.alerts import Deliverer  # noqa: E402
from balkanwatch.storage.store import Store  # noqa: E402
from pipelines.ingest import Ingester, build_index  # noqa: E402
from tests.smtp_killer import KillingSMTP  # noqa: E402
from tests.support import ROOT, write_config  # noqa: E402
from tests.test_alerts import distinct_body  # noqa: E402

OUTLETS = [{"name": "koha", "title": "Koha", "homepage": "https://www.koha.net/"}]
TOPICS = [{"name": "kosovo", "title": "Kosovo", "keywords": ["Kosovo"]}]

DELIVER = """
import asyncio, sys
from balkanwatch.core.config import load_config
from balkanwatch.delivery.alerts import Deliverer
from balkanwatch.storage.store import Store
config = load_config(sys.argv[1])
store = Store(config.database)
print("go", flush=True)
report = asyncio.run(Deliverer(store, config).deliver_due())
print(report, flush=True)
"""


def make_config(directory: Path, urls: list[str]) -> Path:
    return write_config(directory, OUTLETS, TOPICS, [{"name": "desk", "urls": urls}])


def queue_stories(cfg: Path, n: int, seed: int) -> None:
    config = load_config(cfg, env={})
    store = Store(config.database)
    try:
        ingester = Ingester(store, config, TopicMatcher(config.topics), build_index(store, 14))
        for i in range(n):
            doc = Document.of(
                url=f"https://www.koha.net/2026/12/01/story-{seed}-{i}",
                outlet="koha",
                title=f"Kosovo story {seed}-{i}",
                body=distinct_body(seed * 1000 + i),
                published="2026-12-01T07:15:00+00:00",
                language="en",
            )
            assert ingester.ingest(doc).alerts_queued == 1
    finally:
        store.close()


def start_deliverer(cfg: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", DELIVER, str(cfg)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "go\n"
    return proc


def statuses(cfg: Path) -> Counter[str]:
    store = Store(cfg / "bw.db")
    try:
        return Counter(r["status"] for r in store.rows("SELECT status FROM alerts"))
    finally:
        store.close()


def one_round(
    base: Path, n: int, seed: int, span: float, rng: random.Random, at_quit: bool
) -> dict[str, Any]:
    """One kill: at a random moment, or (`at_quit`) at the QUIT of a random one of the messages,
    inside the window in which a repeat is unavoidable."""
    delay = rng.uniform(0.0, 0.3)  # a relay taking 0-300 ms to accept a message
    server = KillingSMTP("QUIT" if at_quit else "any", delay=delay)
    try:
        cfg = make_config(base / f"round-{seed}", [server.url()])
        queue_stories(cfg, n, seed)
        server.spare = rng.randrange(n)
        first = start_deliverer(cfg)
        server.arm(first.pid)
        if not at_quit:
            time.sleep(rng.uniform(0.0, span + n * delay))
            server.kill_now()
        first.wait(timeout=60)
        killed = server.killed_at is not None
        restart = start_deliverer(cfg)
        restart.wait(timeout=120)
        left = statuses(cfg)
        copies: dict[str, list[str]] = defaultdict(list)
        for msg in server.messages:
            ids = msg.get_all("Message-ID") or []
            copies[str(msg["Subject"])].append(str(ids[0]) if len(ids) == 1 else repr(ids))
    finally:
        server.stop()
    twice = [ids for ids in copies.values() if len(ids) > 1]
    return {
        "killed": killed,
        "phase": server.killed_at,
        "arrived": len(copies),
        "twice": len(twice),
        "twice_same_id": sum(len(set(ids)) == 1 for ids in twice),
        "pending": left.get("pending", 0),
        "lost": n - len(copies),
    }


def delivery_span(base: Path, n: int) -> float:
    """Seconds an unkilled deliverer takes from its start of delivery to its exit."""
    server = KillingSMTP("any")
    try:
        cfg = make_config(base / "warmup", [server.url()])
        queue_stories(cfg, n, 0)
        started = time.monotonic()
        start_deliverer(cfg).wait(timeout=120)
        return time.monotonic() - started
    finally:
        server.stop()


def stress(kills: int, n: int, seed: int, at_quit: bool) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        span = delivery_span(base, n)
        rounds: list[dict[str, Any]] = []
        attempt = 0
        while sum(r["killed"] for r in rounds) < kills and attempt < kills * 3:
            attempt += 1
            rounds.append(one_round(base, n, attempt, span, rng, at_quit))
    done = [r for r in rounds if r["killed"]]
    total = lambda key: sum(r[key] for r in done)  # noqa: E731
    what = "at the QUIT of a random message" if at_quit else "at random moments"
    print(f"\ne-mail, kills {what}: {n} alerts per round, unkilled delivery {span:.2f}s")
    print(f"kills: {len(done)} (rounds that ended before the kill: {len(rounds) - len(done)})")
    print(f"kill moments (SMTP phase): {dict(Counter(r['phase'] for r in done))}")
    print(f"stories: {len(done) * n}; arrived: {total('arrived')}; lost: {total('lost')}")
    print(f"arrived twice: {total('twice')}; sharing one Message-ID: {total('twice_same_id')}")
    print(f"pending after the restart: {total('pending')}")


# -- the Slack window ---------------------------------------------------------------------------


class FakeSlack:
    """Loopback stand-in for hooks.slack.com: records when each message was fully received."""

    def __init__(self) -> None:
        self.taken: list[float] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.taken.append(time.time())  # Slack has the message from here on
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def window(urls: list[str], taken: list[float], n: int, base: Path, name: str) -> list[float]:
    """Seconds from the service taking each message to the commit of `delivered`."""
    cfg = make_config(base / name, urls)
    queue_stories(cfg, n, 7)
    config = load_config(cfg, env={})
    store = Store(config.database)
    committed: list[float] = []
    mark = store.mark_delivered

    def timed(alert_id: int, keys: Any) -> None:
        mark(alert_id, keys)
        committed.append(time.time())

    store.mark_delivered = timed  # type: ignore[method-assign]
    try:
        report = asyncio.run(Deliverer(store, config).deliver_due())
    finally:
        store.close()
    assert report.sent == n and len(taken) == len(committed) == n, (report, len(taken))
    return [c - t for t, c in zip(taken, committed, strict=True)]


def describe(name: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    print(
        f"{name}: n={len(ms)} median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, "
        f"max {ms[-1]:.1f} ms"
    )


def measure_windows(n: int) -> None:
    from apprise.plugins.slack import NotifySlack

    slack = FakeSlack()
    smtp = KillingSMTP("none")
    original = NotifySlack.webhook_url
    NotifySlack.webhook_url = f"http://127.0.0.1:{slack.server.server_address[1]}/services"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7/#news"
            describe("Slack window", window([url], slack.taken, n, Path(tmp), "slack"))
            describe("e-mail window", window([smtp.url()], smtp.accepted_at, n, Path(tmp), "mail"))
    finally:
        NotifySlack.webhook_url = original
        slack.close()
        smtp.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--stories", type=int, default=8)
    parser.add_argument("--window-messages", type=int, default=100)
    parser.add_argument("--quit-kills", type=int, default=10, help="more kills, at QUIT")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    stress(args.kills, args.stories, args.seed, at_quit=False)
    if args.quit_kills:
        stress(args.quit_kills, args.stories, args.seed + 1, at_quit=True)
    measure_windows(args.window_messages)


if __name__ == "__main__":
    main()
