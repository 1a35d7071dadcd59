"""Real servers for tests: fixture outlets over HTTP on 127.0.0.x and an SMTP server (aiosmtpd).

The outlet server is a plain threaded http.server: routes are data, every request is logged (so
tests can count what the crawler fetched), and ETag / Last-Modified are honoured with 304s the way
real feed servers do.
"""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass
class Route:
    body: bytes | Callable[[], bytes]
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drip: float = 0.0  # send the body a byte every `drip` seconds (a site that barely answers)


class FixtureSite:
    """One fixture outlet on its own loopback address."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.log: list[tuple[str, str, dict[str, str]]] = []  # (method, path, headers)
        self.sent: list[tuple[str, int, int]] = []  # (path, status, body bytes)
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                headers = {k.lower(): v for k, v in self.headers.items()}
                with site._lock:
                    site.log.append(("GET", self.path, headers))
                route = site.routes.get(self.path)
                if route is None and self.path == "/robots.txt":
                    route = Route(b"User-agent: *\nAllow: /\n", "text/plain")
                if route is None:
                    return self._send(404, b"not found", "text/plain", {})
                if route.delay:
                    time.sleep(route.delay)
                extra = dict(route.headers)
                if route.etag:
                    extra["ETag"] = route.etag
                if route.last_modified:
                    extra["Last-Modified"] = route.last_modified
                fresh = (route.etag and headers.get("if-none-match") == route.etag) or (
                    route.last_modified and headers.get("if-modified-since") == route.last_modified
                )
                if fresh and route.status == 200:
                    return self._send(304, b"", None, extra)
                body = route.body() if callable(route.body) else route.body
                self._send(route.status, body, route.content_type, extra, route.drip)

            def _send(
                self, status: int, body: bytes, ctype: str | None, extra: dict, drip: float = 0.0
            ) -> None:
                with site._lock:
                    site.sent.append((self.path, status, len(body)))
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if drip:
                    try:
                        for i in range(len(body)):
                            self.wfile.write(body[i : i + 1])
                            self.wfile.flush()
                            time.sleep(drip)
                    except OSError:  # the client gave up: what a dripping site sees
                        self.close_connection = True
                elif body:
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.host = host
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: bytes | str | Callable[[], bytes], **kw: Any) -> str:
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.routes[path] = Route(body, **kw)
        return self.url(path)

    def requests(self, prefix: str = "") -> list[str]:
        with self._lock:
            return [p for _, p, _ in self.log if p.startswith(prefix) and p != "/robots.txt"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def rss(items: list[dict[str, str]], title: str = "Fixture outlet") -> str:
    """A small RSS 2.0 feed; items have link, title and optionally pubDate."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{title}</title><link>http://example.invalid/</link><description>x</description>",
    ]
    for it in items:
        pub = f"<pubDate>{it['pubDate']}</pubDate>" if it.get("pubDate") else ""
        parts.append(f"<item><title>{it['title']}</title><link>{it['link']}</link>{pub}</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts)


def write_config(
    directory: Path,
    outlets: list[dict[str, Any]],
    topics: list[dict[str, Any]] | None = None,
    subscribers: list[dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    base_settings = {"database": str(directory / "bw.db"), "user_agent": "balkanwatch-test/0.1"}
    files = {
        "settings.yaml": {**base_settings, **(settings or {})},
        "outlets.yaml": {"outlets": outlets},
        "topics.yaml": {
            "topics": topics
            if topics is not None
            else [
                {
                    "name": "kosovo-security",
                    "title": "Kosovo, NATO and KFOR",
                    "keywords": ["Kosovo", "NATO", "KFOR"],
                }
            ]
        },
        "subscribers.yaml": {"subscribers": subscribers or []},
    }
    for name, data in files.items():
        (directory / name).write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return directory


# Fast, local crawling: no politeness delays against our own loopback servers.
FAST = [
    "-s",
    "DOWNLOAD_DELAY=0",
    "-s",
    "AUTOTHROTTLE_ENABLED=False",
    "-s",
    "CONCURRENT_REQUESTS_PER_DOMAIN=8",
    "-s",
    "RETRY_TIMES=0",
    "-s",
    "DOWNLOAD_TIMEOUT=5",
    "-s",
    "EXTRACT_WORKERS=2",
    "-s",
    "OUTLET_STAGGER=0",
]


def crawl(
    config_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`scrapy crawl outlets` as an operator runs it, from the repository root."""
    full_env = {**os.environ, "BALKANWATCH_CONFIG": str(config_dir), **(env or {})}
    full_env.pop("BALKANWATCH_DB", None) if "BALKANWATCH_DB" not in (env or {}) else None
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "outlets", *FAST, *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_crawl(config_dir: Path) -> subprocess.Popen[bytes]:
    """`scrapy crawl outlets` in the background, in a process group of its own (which a test
    may kill whole, as a power cut would)."""
    return subprocess.Popen(
        [sys.executable, "-m", "scrapy", "crawl", "outlets", *FAST],
        cwd=ROOT,
        env={**os.environ, "BALKANWATCH_CONFIG": str(config_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def feed_outlets(sites: list[FixtureSite], items: list[list[dict[str, str]]]) -> list[dict]:
    """outlets.yaml entries `outlet0`, `outlet1`, ...: each site with an RSS feed of its items."""
    return [
        {
            "name": f"outlet{i}",
            "title": f"Outlet {i}",
            "homepage": site.url("/"),
            "feeds": [site.add("/feed/", rss(items[i]), content_type="application/rss+xml")],
        }
        for i, site in enumerate(sites)
    ]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(
    *args: str, env: dict[str, str], stdin: str | bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """`balkanwatch ARGS` as a user runs it (text in and out)."""
    return subprocess.run(
        [sys.executable, "-m", "balkanwatch.app.cli", *args],
        cwd=ROOT,
        env=env,
        input=stdin.decode() if isinstance(stdin, bytes) else stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


class SMTPSink:
    """A real SMTP server on loopback (aiosmtpd) that keeps every message it receives."""

    def __init__(self, delay: float = 0.0) -> None:
        import asyncio

        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        self.receiving = threading.Event()  # set while a message is being received
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                sink.receiving.set()
                if delay:  # a slow server: the message counts only once it is acknowledged
                    await asyncio.sleep(delay)
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                sink.messages.append(msg)  # type: ignore[arg-type]
                sink.receiving.clear()
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def url(self, to: str = "desk@example.org") -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?from=balkanwatch@example.org&to={to}"
            "&secure=no&smtp=127.0.0.1"
        )

    def stop(self) -> None:
        self.controller.stop()


def article_page(
    title: str,
    paragraphs: list[str],
    published: str = "2026-11-30T08:00:00+01:00",
    lang: str = "en",
    canonical: str | None = None,
    charset: str = "utf-8",
) -> str:
    """A plain news article page with the usual furniture around the story."""
    canon = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="{charset}"><title>{title} | Fixture News</title>
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="{published}">{canon}</head>
<body><header><nav><a href="/">Home</a> <a href="/politics/">Politics</a>
<a href="/sport/">Sport</a></nav></header>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies</div>
<main><article><h1>{title}</h1><div class="byline">By Staff Reporter</div>
{body}
<div class="share">Share on Facebook Share on X</div></article>
<aside><h3>Related</h3><ul><li><a href="/2026/01/01/other">Another story entirely</a></li></ul>
</aside></main><footer>Copyright Fixture News</footer></body></html>"""
