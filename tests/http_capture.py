"""Test servers at the delivery boundary: a webhook receiver on loopback that records every POST,
an SMTP server that records envelopes as well as messages and can go down and come back on the
same port, and an interceptor for the HTTP requests that cannot leave this machine (Slack).

Kept apart from `tests/support.py` (fixture outlets, which only serve GETs) because these servers
play the other side of alert delivery: they receive.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from tests.support import free_port


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookServer:
    """A real HTTP server on 127.0.0.1 that answers each POST with the next scripted status
    (then 200 for ever) and keeps what it received."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []  # answers for the next requests, in order
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with hook._lock:
                    hook.received.append(Received("POST", self.path, headers, body))
                    status = hook.statuses.pop(0) if hook.statuses else 200
                reply = b"ok" if status < 300 else b"unavailable"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        # A short poll: shutdown() waits for the loop to notice, 0.5 s by default.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str = "/hook", credentials: str = "") -> str:
        """An apprise `json://` URL that posts here."""
        who = f"{credentials}@" if credentials else ""
        return f"json://{who}127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SMTPServer:
    """A real SMTP server (aiosmtpd) on a fixed loopback port; `stop()` and `start()` take it
    down and bring it back on the same port, as a mail relay being restarted would."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TO)
        self.controller: Any = None
        self.start()

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        server = self

        class Handler:
            async def handle_DATA(self, _: Any, __: Any, envelope: Any) -> str:  # noqa: N802
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                server.messages.append(msg)  # type: ignore[arg-type]
                server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def url(self, to: str = "desk@example.org", credentials: str = "") -> str:
        who = f"{credentials}@" if credentials else ""
        return (
            f"mailto://{who}127.0.0.1:{self.port}?from=balkanwatch@example.org&to={to}"
            "&secure=no&smtp=127.0.0.1"
        )


@contextmanager
def intercept_http(
    status: int = 200, reply: bytes = b"ok"
) -> Iterator[list[requests.PreparedRequest]]:
    """Catch every request `requests` would put on the wire (the transport adapter is the last
    step before the socket) and answer it locally; yields the prepared requests, in order.

    Used for Slack, which cannot be reached from here: apprise's Slack plugin builds its webhook
    request with `requests`, so everything apprise decides (URL, headers, JSON body) is captured."""
    sent: list[requests.PreparedRequest] = []
    original = HTTPAdapter.send

    def send(self: HTTPAdapter, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        sent.append(request)
        response = requests.Response()
        response.status_code = status
        response._content = reply
        response.url = request.url or ""
        response.request = request
        return response

    HTTPAdapter.send = send  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        HTTPAdapter.send = original  # type: ignore[method-assign]
