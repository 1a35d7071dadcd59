"""Secret masking: credentials in apprise URLs never reach logs, errors, the database or output.

A security helper used by every layer that prints or stores something that may contain a URL,
so it sits in the foundation rather than with the e-mail renderer.
"""

from __future__ import annotations

import re

MASK = "****"

_URL = re.compile(r"(?<![\w+.\-])(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>[^\s<>\"'`]+)")
_TRAILING = ".,;:!?)]}"
# The password runs to the first '@' that a host name follows, so an unencoded '@' or '/' in it
# is still masked.
_USER_PASS = re.compile(
    r"(?P<user>[^:/@]*):(?P<password>.*?)@(?P<host>[\w\-.\[\]:%*]*)(?P<path>/.*)?$"
)
_USER_ONLY = re.compile(r"(?P<user>[^:/@]+)@(?P<host>[^@/]*)(?P<path>/.*)?$")
_HOSTNAME = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|localhost|[\w\-]+(?:\.[\w\-]+)+)(?::\d+)?$")
_EMAIL = re.compile(r"[^@\s/]+@[\w\-]+(?:\.[\w\-]+)+$")
# Hosts whose URL paths are made of webhook ids and tokens, not pages.
_WEBHOOK_HOSTS = re.compile(
    r"(?:hooks\.slack\.com|(?:\w+\.)?discord(?:app)?\.com|api\.telegram\.org"
    r"|[\w.-]*webhook\.office\.com|outlook\.office\.com|ntfy\.sh)(?::\d+)?$",
    re.IGNORECASE,
)
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)+(?:\.[a-z]+)?$")
# Query keys whose values name people or places, never credentials; every other value is masked.
# fmt: off
_PUBLIC_KEYS = frozenset({
    "to", "cc", "bcc", "from", "name", "user", "smtp", "port", "mode", "format", "overflow",
    "secure", "verify", "rto", "cto", "lang", "image", "footer", "avatar", "priority",
    "subject", "reply", "channel", "channels", "tz", "timestamp", "blocks", "emojis", "color",
    "label", "title", "tags", "method",
})
# fmt: on


def mask_secrets(text: str) -> str:
    """`text` with the credentials of every URL in it replaced by `****`.

    Kept, so operators can tell URLs apart: the scheme, real host names (with a dot, or
    localhost), user names, `#channel` and `@user` targets, e-mail recipients and the values of
    query keys such as `to`. Masked: passwords, hosts that are tokens (`slack://TOKEN/…`,
    `tgram://BOT-TOKEN/…`), every path segment of a service URL and other query values. For
    http(s), where paths are usually pages rather than credentials, only path segments that look
    like tokens are masked, so article URLs in logs stay readable."""
    return _URL.sub(_mask_match, text)


def _mask_match(found: re.Match[str]) -> str:
    scheme, rest = found["scheme"], found["rest"]
    tail = ""
    while rest and rest[-1] in _TRAILING:
        rest, tail = rest[:-1], rest[-1] + tail
    return f"{scheme}://{_mask_rest(scheme.lower(), rest)}{tail}"


def _mask_rest(scheme: str, rest: str) -> str:
    location, mark, query = rest.partition("?")
    user, password, host, path = _split_location(location)
    shown = _mask_host(host)
    if scheme not in ("http", "https"):
        policy = _service_segment
    elif _WEBHOOK_HOSTS.match(host):
        policy = _webhook_segment
    else:
        policy = _page_segment
    masked = shown + "/".join(policy(segment) for segment in path.split("/"))
    if user is not None:
        # Beside a host that is itself a token, the "user" is usually a key as well.
        who = user if shown != MASK else MASK
        masked = f"{who}{'' if password is None else ':' + MASK}@{masked}"
    return masked + mark + _mask_query(query)


def _split_location(location: str) -> tuple[str | None, str | None, str, str]:
    """(user, password, host, path) of `user:password@host/path`; the path keeps its slash."""
    if found := _USER_PASS.match(location) or _USER_ONLY.match(location):
        parts = found.groupdict()
        return parts["user"], parts.get("password"), parts["host"], parts["path"] or ""
    host, slash, path = location.partition("/")
    return None, None, host, slash + path


def _mask_host(host: str) -> str:
    """A host name stays; a 'host' that is really a token (no dot, not localhost) is masked."""
    return host if not host or _HOSTNAME.match(host) else MASK


def _kept(segment: str) -> bool:
    """Empty, already masked, a `#channel` or `@user` target, or an e-mail address."""
    return not segment or segment == MASK or segment[0] in "#@" or bool(_EMAIL.match(segment))


def _service_segment(segment: str) -> str:
    return segment if _kept(segment) else MASK


def _webhook_segment(segment: str) -> str:
    plain_word = re.fullmatch(r"[a-z]+|v\d{1,2}", segment)
    return segment if _kept(segment) or plain_word else MASK


def _page_segment(segment: str) -> str:
    return MASK if not _kept(segment) and _looks_like_token(segment) else segment


def _looks_like_token(segment: str) -> bool:
    """Webhook ids and keys (`T0001AB2C`, `bot123:AAH…`, 18-digit ids) as opposed to page paths
    (`2026`, `kosovo-nato-talks-2026.html`, `news`)."""
    if not re.fullmatch(r"[\w\-.~:=+%]{8,}", segment) or _SLUG.match(segment):
        return False
    if segment.isdigit():
        return len(segment) >= 15
    has_digit, has_upper = any(c.isdigit() for c in segment), any(c.isupper() for c in segment)
    return (has_digit and any(c.isalpha() for c in segment)) or (len(segment) >= 20 and has_upper)


def _mask_query(query: str) -> str:
    items = []
    for item in query.split("&"):
        key, eq, value = item.partition("=")
        if not eq:
            items.append(MASK if key and key != MASK else key)
        elif key.lower().lstrip("+-:") in _PUBLIC_KEYS or not value:
            items.append(item)
        else:
            items.append(f"{key}={MASK}")
    return "&".join(items)
