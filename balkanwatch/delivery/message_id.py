"""Message-IDs: one per alert and recipient URL, the same on every try, so a repeat after a crash
is recognisably the same message.

    <bw.<alert id>.<24 hex digits>@<settings.message_id_domain>>

The hex digits hash the alert's dedup_key and creation time with the URL's key: stable across
retries, processes and restarts (nothing in it depends on who sends, or when), unique per URL,
and unique per alert even across databases (a new database numbers its alerts from 1 again, but
not at the same moments). Mail systems and archives drop a second message with a Message-ID they
have seen; a repeat is otherwise indistinguishable from a new alert.

How it reaches the recipient, per apprise service:
- e-mail (mailto://, mailtos:// and the providers built on them): the headers `Message-ID` and
  `X-Balkanwatch-Alert: <alert id>`, as apprise's documented `+Header=value` URL arguments.
  apprise 2.x adds those headers *and then its own random Message-ID* (`make_msgid` in
  `NotifyEmail.prepare_emails`), so every message would carry two; `_one_message_id` drops
  apprise's when ours is present. The test reads the headers as a real SMTP server got them.
- generic webhooks (json://, xml://, form://): the same values as HTTP headers
  `X-Balkanwatch-Message-ID` and `X-Balkanwatch-Alert`, for a receiver that wants to deduplicate.
- everything else (Slack, Telegram, ...): no field for it; see the README on the window in which
  a crash can repeat a message there.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from apprise.plugins.custom_form import NotifyForm
from apprise.plugins.custom_json import NotifyJSON
from apprise.plugins.custom_xml import NotifyXML
from apprise.plugins.email import NotifyEmail

ALERT_HEADER = "X-Balkanwatch-Alert"
WEBHOOK_ID_HEADER = "X-Balkanwatch-Message-ID"


def message_id(alert: dict[str, Any], url_key: str, domain: str) -> str:
    """The Message-ID of `alert` (an alerts row) sent to the URL whose key is `url_key`."""
    seed = f"{alert['dedup_key']}\n{alert['created_at']}\n{url_key}"
    digest = hashlib.sha256(seed.encode()).hexdigest()[:24]
    return f"<bw.{alert['id']}.{digest}@{domain}>"


def headers_for(service: Any, message_id: str, alert_id: int | None) -> dict[str, str]:
    """The headers that carry the ids to this apprise service; {} where it takes none."""
    if not message_id:
        return {}
    alert = {} if alert_id is None else {ALERT_HEADER: str(alert_id)}
    if isinstance(service, NotifyEmail):
        return {"Message-ID": message_id, **alert}
    if isinstance(service, NotifyJSON | NotifyXML | NotifyForm):
        return {WEBHOOK_ID_HEADER: message_id, **alert}
    return {}


def with_headers(url: str, headers: dict[str, str]) -> str:
    """`url` with each header as a `+Name=value` argument (apprise's syntax for extra headers).
    Ours win over a header of the same name in the URL: they come last, and apprise keeps the
    last value of a repeated argument."""
    if not headers:
        return url
    base, hash_, fragment = url.partition("#")
    args = "&".join(f"{quote('+' + k, safe='')}={quote(v, safe='')}" for k, v in headers.items())
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}{args}{hash_}{fragment}"


# -- apprise adds its own Message-ID after ours ----------------------------------------------

_MESSAGE_ID_LINE = re.compile(r"^message-id:(.*)$", re.IGNORECASE | re.DOTALL)


def without_other_message_ids(raw: str, ours: str) -> str:
    """The message `raw` (headers, blank line, body) keeping only the Message-ID header `ours`."""
    newline = "\r\n" if "\r\n" in raw.partition("\n\n")[0] else "\n"
    head, sep, body = raw.partition(newline * 2)
    fields: list[list[str]] = []  # each header with its folded continuation lines
    for line in head.split(newline):
        if line[:1] in (" ", "\t") and fields:
            fields[-1].append(line)
        else:
            fields.append([line])
    kept = [
        lines
        for lines in fields
        if not (m := _MESSAGE_ID_LINE.match("".join(lines))) or m.group(1).strip() == ours
    ]
    return newline.join(line for lines in kept for line in lines) + sep + body


def _one_message_id(prepare: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    @functools.wraps(prepare)
    def prepare_emails(*args: Any, **kwargs: Any) -> Iterator[Any]:
        headers = kwargs.get("headers") or {}
        # The last one: a URL's own `+message-id=` (any case) comes before ours.
        ours = [v for k, v in headers.items() if k.lower() == "message-id"][-1:]
        for email in prepare(*args, **kwargs):
            if ours:
                email.body = without_other_message_ids(email.body, str(ours[0]).strip())
            yield email

    prepare_emails.balkanwatch = True  # type: ignore[attr-defined]
    return prepare_emails


if not getattr(NotifyEmail.prepare_emails, "balkanwatch", False):
    NotifyEmail.prepare_emails = staticmethod(  # type: ignore[method-assign]
        _one_message_id(NotifyEmail.prepare_emails)
    )
