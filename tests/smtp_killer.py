"""A real SMTP server (aiosmtpd) that SIGKILLs the sending process group at a chosen moment of
the SMTP dialogue, as a power cut or the OOM killer would: used by the crash tests and by
bench/stress_delivery.py.

Moments:
- "DATA": the whole message has arrived, the server has not answered yet: not delivered.
- "QUIT": the server has answered 250 to DATA (delivered) and the client says goodbye; the
  deliverer has not recorded the delivery yet (apprise returns only after QUIT).
- "any": whatever the dialogue is at when `kill_now()` is called (the stress bench's random
  moments); `phase` says where the server was: "idle" (no connection yet), "EHLO" (connected,
  the dialogue before DATA), "DATA" (message in, no answer yet), "accepted" (250 given), "QUIT"
  (from QUIT until the next connection: the deliverer records the delivery and composes the
  next message).
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import threading
import time
from email.message import EmailMessage
from typing import Any

from tests.support import free_port


class KillingSMTP:
    def __init__(self, moment: str = "any", delay: float = 0.0) -> None:
        from aiosmtpd.controller import Controller

        self.moment = moment
        self.delay = delay  # seconds before each answer to DATA: a slower relay
        self.victim: int | None = None  # the process group to kill
        self.spare = 0  # moment "QUIT": how many QUITs to let pass before the one that kills
        self.killed_at: str | None = None  # the phase the kill happened in
        self.phase = "idle"
        self.messages: list[EmailMessage] = []
        self.accepted_at: list[float] = []  # when each 250 to DATA was given
        self._lock = threading.Lock()
        server = self

        class Handler:
            async def handle_EHLO(  # noqa: N802
                self, _: Any, session: Any, __: Any, hostname: str, responses: list[str]
            ) -> list[str]:
                server.phase = "EHLO"
                session.host_name = hostname  # this form of the hook must set it itself
                return responses

            async def handle_DATA(self, _: Any, __: Any, envelope: Any) -> str:  # noqa: N802
                server.phase = "DATA"
                if server.moment == "DATA" and server.kill_now():
                    return "451 the sender died first"
                if server.delay:
                    import asyncio

                    await asyncio.sleep(server.delay)
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with server._lock:
                    server.messages.append(msg)  # type: ignore[arg-type]
                    server.accepted_at.append(time.time())
                server.phase = "accepted"
                return "250 OK"

            async def handle_QUIT(self, _: Any, __: Any, ___: Any) -> str:  # noqa: N802
                server.phase = "QUIT"
                if server.moment == "QUIT":
                    if server.spare > 0:
                        server.spare -= 1
                    else:
                        server.kill_now()
                return "221 Bye"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def arm(self, process_group: int) -> None:
        with self._lock:
            self.victim, self.killed_at = process_group, None

    def kill_now(self) -> bool:
        """Kill the armed process group once; True if this call killed it."""
        with self._lock:
            if self.victim is None or self.killed_at is not None:
                return False
            try:
                os.killpg(self.victim, signal.SIGKILL)
            except ProcessLookupError:
                return False
            self.killed_at = self.phase
            return True

    def url(self, to: str = "desk@example.org") -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?from=balkanwatch@example.org&to={to}"
            "&secure=no&smtp=127.0.0.1"
        )

    def stop(self) -> None:
        self.controller.stop()
