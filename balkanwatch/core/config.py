"""Configuration: the four YAML files of the configuration directory, validated once into
typed objects.

Every error names the file, the entry and the problem, because an operator editing YAML on a server
needs to know where to look; secrets are never part of an error (values are masked before they are
shown).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from balkanwatch.core.keywords import check_topic_terms
from balkanwatch.core.schedule import parse_schedule
from balkanwatch.core.secrets import mask_secrets

DEFAULT_CONFIG_DIR = "config"
CONFIG_FILES = ("settings.yaml", "outlets.yaml", "topics.yaml", "subscribers.yaml")

_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")  # a host or domain name, as in a Message-ID
# The shipped user agent's contact: outlets see it, so an operator must put their own there.
EXAMPLE_CONTACT = "https://example.org/contact"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class ConfigError(Exception):
    """A configuration problem; the message names file, entry and what is wrong."""


def parse_interval(value: str | int | float) -> float:
    """`15m`, `90s`, `2h`, `1d` or a bare number of seconds -> seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = _INTERVAL.match(str(value))
        if not m:
            raise ValueError(f"bad interval {value!r}: use a number with s, m, h or d (e.g. 15m)")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"bad interval {value!r}: must be positive")
    return seconds


def _check_slug(name: str) -> str:
    if not _SLUG.match(name):
        raise ValueError(f"bad name {name!r}: a slug of lowercase letters, digits, - and _")
    return name


Slug = Annotated[str, AfterValidator(_check_slug)]


def _check_http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"bad URL {url!r}: must be an absolute http(s) URL")
    return url


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Settings(_Strict):
    database: str = "data/balkanwatch.db"
    interval: float = 15 * 60
    timezone: str = "Europe/Belgrade"
    user_agent: str = f"balkanwatch/0.1 (+{EXAMPLE_CONTACT})"
    log_level: str = "INFO"
    max_age_days: float = (
        7.0  # feed/sitemap items older than this are skipped unless a backfill is asked for
    )
    concurrent_crawls: int = 2  # daemon: child crawls running at once
    crawl_timeout: float = 15 * 60  # daemon: a child crawl is stopped after this many seconds
    # Each outlet's own time budget inside a crawl: a slow or endless outlet is cut there, with
    # what it stored, and holds up no other outlet.
    outlet_timeout: float = 5 * 60
    failure_threshold: int = 3  # consecutive failed crawls before an outlet is reported unhealthy
    empty_threshold: int = (
        12  # consecutive runs with zero new articles before an outlet is reported
    )
    operators: list[str] = []  # subscriber names that get outlet health alerts
    feeds_dir: str | None = None  # write an Atom feed per topic here after each cycle
    dedup_window_days: float = 14.0  # how far back a copy of a story is recognised
    templates_dir: str | None = None  # your own alert/page templates override the shipped ones
    # The part after '@' of every alert's Message-ID. Not the host name: a container's changes
    # when it is recreated, and a repeat must carry the same Message-ID as the first copy.
    message_id_domain: str = "balkanwatch.invalid"

    @field_validator("interval", "crawl_timeout", "outlet_timeout", mode="before")
    @classmethod
    def _interval(cls, v: Any) -> float:
        return parse_interval(v)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {v!r} (use an IANA name like Europe/Belgrade)"
            ) from None
        return v

    @field_validator("message_id_domain")
    @classmethod
    def _msgid_domain(cls, v: str) -> str:
        if not _DOMAIN.match(v):
            raise ValueError(f"bad message_id_domain {v!r}: a domain name like alerts.example.org")
        return v.lower()

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError(f"bad log_level {v!r}: DEBUG, INFO, WARNING or ERROR")
        return v.upper()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Outlet(_Strict):
    name: Slug
    title: str = ""
    homepage: str
    country: str = ""
    language: str = ""
    feeds: list[str] = []
    sitemaps: list[str] = []
    article_pattern: str | None = None
    interval: float | None = None
    enabled: bool = True
    domains: list[str] = []  # extra own domains when articles live on another host
    # Politeness for this outlet's hosts; None keeps the crawler's defaults (AutoThrottle from
    # a 1 s delay, 2 requests at a time). For a site that asks for less, or a local mirror.
    crawl_delay: Annotated[float, Field(ge=0, le=600)] | None = None  # seconds
    concurrency: Annotated[int, Field(ge=1, le=64)] | None = None

    @field_validator("homepage")
    @classmethod
    def _homepage(cls, v: str) -> str:
        return _check_http_url(v)

    @field_validator("feeds", "sitemaps")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        return [_check_http_url(u) for u in v]

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, v: Any) -> float | None:
        return None if v is None else parse_interval(v)

    @field_validator("article_pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"bad article_pattern {v!r}: {e}") from None
        return v

    @field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        if v and not re.fullmatch(r"[a-z]{2,3}", v):
            raise ValueError(f"bad language {v!r}: an ISO 639-1 code such as sq, sr, mk, en")
        return v

    def own_domains(self) -> list[str]:
        """``host[:port]`` of the homepage and the extra domains. Host and port are the origin:
        another port of the homepage's host is another site unless listed in ``domains``; an
        entry there without a port is on the homepage's port."""
        home = urlsplit(self.homepage)
        port = f":{home.port}" if home.port not in (None, 80, 443) else ""
        return [f"{home.hostname or ''}{port}", *(_on_port(d, port) for d in self.domains)]


def _on_port(domain: str, port: str) -> str:
    parts = urlsplit(domain if "://" in domain else "//" + domain.strip().lstrip("/"))
    try:
        explicit = parts.port
    except ValueError:  # a malformed port: the entry as written, which matches nothing
        return domain
    if explicit is not None or not port or not parts.hostname:
        return domain
    return parts.hostname + port


class Topic(_Strict):
    name: Slug
    title: str = ""
    keywords: list[str]
    # keyword -> its other names; written in topics.yaml as {term: Kosovo, aliases: [Kosmet, KiM]}
    # in `keywords`, kept apart here so that `keywords` stays the list of terms everywhere
    aliases: dict[str, list[str]] = {}
    require: list[str] = []
    exclude: list[str] = []

    @model_validator(mode="before")
    @classmethod
    def _keyword_entries(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("keywords"), list):
            data = {**data, **split_keyword_entries(data["keywords"], data.get("aliases"))}
        return data

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, v: list[str]) -> list[str]:
        if not v or not all(isinstance(k, str) and k.strip(" *") for k in v):
            raise ValueError("keywords must be a non-empty list of words")
        return v

    @model_validator(mode="after")
    def _default_title(self) -> Topic:
        stray = [k for k in self.aliases if k not in self.keywords]
        if stray:
            raise ValueError(f"aliases given for {', '.join(map(repr, stray))}, not a keyword")
        if not self.title:
            object.__setattr__(self, "title", self.name)
        return self


def split_keyword_entries(entries: list[Any], aliases: Any = None) -> dict[str, Any]:
    """`keywords` entries, each a word or {term: ..., aliases: [...]}, as the list of terms and
    the mapping of aliases; an entry written wrong is named by its position."""
    terms: list[Any] = []
    found: dict[str, list[str]] = dict(aliases) if isinstance(aliases, dict) else {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            terms.append(entry)
            continue
        where = f"keywords[{i}]"
        extra = set(entry) - {"term", "aliases"}
        if extra:
            raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(map(str, extra)))}")
        term, names = entry.get("term"), entry.get("aliases", [])
        if not isinstance(term, str) or not term.strip(" *"):
            raise ValueError(f"{where}: 'term' must be the keyword, e.g. {{term: Kosovo, ...}}")
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise ValueError(f"{where} ({term}): 'aliases' must be a list of names")
        if term in found:
            raise ValueError(f"{where} ({term}): aliases given twice for this keyword")
        terms.append(term)
        found[term] = names
    return {"keywords": terms, "aliases": found} if found else {"keywords": terms}


class Breaking(_Strict):
    """`breaking: {outlets: 4, within: 2h}`: one alert when a story on the subscriber's topics
    has been carried by that many distinct outlets within that time."""

    outlets: Annotated[int, Field(ge=2, le=1000)]  # one outlet is every story: not breaking
    within: float  # seconds; written 2h, 90m, ...
    only: bool = False  # only breaking alerts: no alert (instant or digest) per story

    @field_validator("within", mode="before")
    @classmethod
    def _within(cls, v: Any) -> float:
        return parse_interval(v)

    def describe(self) -> str:
        return f"{self.outlets} outlets within {format_interval(self.within)}"


def format_interval(seconds: float) -> str:
    """`2h`, `90m`, `45s`: the largest unit that divides the interval."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class Subscriber(_Strict):
    name: str
    urls: list[str]
    topics: list[str] | None = None  # None: every topic
    digest: str | None = None
    breaking: Breaking | None = None

    @field_validator("urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("urls must list at least one apprise URL")
        for u in v:
            if "://" not in u:
                raise ValueError(f"bad apprise URL {mask_url(u)!r}: expected scheme://...")
        return v

    @field_validator("digest")
    @classmethod
    def _digest(cls, v: str | None) -> str | None:
        parse_schedule(v)  # raises ValueError with a readable message
        return v or None

    def wants(self, topic: str) -> bool:
        return self.topics is None or topic in self.topics


@dataclass(frozen=True)
class Config:
    directory: Path
    settings: Settings
    outlets: list[Outlet]
    topics: list[Topic]
    subscribers: list[Subscriber]
    # A SQLite file, or a postgresql:// URL kept as text (a Path would fold its "//" into "/")
    database: Path | str = field(default=Path("data/balkanwatch.db"))

    def outlet(self, name: str) -> Outlet:
        for o in self.outlets:
            if o.name == name:
                return o
        raise KeyError(name)

    def subscriber(self, name: str) -> Subscriber:
        for s in self.subscribers:
            if s.name == name:
                return s
        raise KeyError(name)

    def enabled_outlets(self, names: list[str] | None = None) -> list[Outlet]:
        if names:
            unknown = sorted(set(names) - {o.name for o in self.outlets})
            if unknown:
                raise ConfigError(f"unknown outlet(s): {', '.join(unknown)}")
            return [o for o in self.outlets if o.name in names]
        return [o for o in self.outlets if o.enabled]

    def interval_of(self, outlet: Outlet) -> float:
        return outlet.interval or self.settings.interval


def mask_url(url: str) -> str:
    return mask_secrets(url)


def expand_env(value: Any, where: str, env: dict[str, str], strict: bool = True) -> Any:
    """Replace ${VAR} in every string of a parsed YAML tree; a missing variable names itself
    (unless not `strict`: read-only commands need no secrets and leave ${VAR} as it is)."""
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in env:
                if not strict:
                    return m.group(0)
                raise ConfigError(f"{where}: environment variable {name} is not set")
            return env[name]

        return _ENV_VAR.sub(sub, value)
    if isinstance(value, list):
        return [expand_env(v, f"{where}[{i}]", env, strict) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: expand_env(v, f"{where}.{k}", env, strict) for k, v in value.items()}
    return value


def _read_yaml(path: Path, env: dict[str, str], strict: bool = True) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return expand_env(data, path.name, env, strict)


def _describe(e: ValidationError) -> str:
    """Pydantic's errors, made readable; input values are left out (they may hold secrets)."""
    parts = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def _entries(path: Path, data: dict[str, Any], key: str, model: type[BaseModel]) -> list[Any]:
    extra = set(data) - {key}
    if extra:
        raise ConfigError(f"{path}: unknown top-level key(s) {', '.join(sorted(extra))}")
    raw = data.get(key) or []
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: '{key}' must be a list")
    items, seen = [], set()
    for i, entry in enumerate(raw):
        label = entry.get("name") if isinstance(entry, dict) else None
        where = f"{path}: {key}[{i}]" + (f" ({label})" if label else "")
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping")
        try:
            item = model.model_validate(entry)
        except ValidationError as e:
            raise ConfigError(f"{where}: {_describe(e)}") from None
        name = item.name  # type: ignore[attr-defined]
        if name in seen:
            raise ConfigError(f"{where}: duplicate name {name!r}")
        seen.add(name)
        items.append(item)
    return items


def load_config(
    directory: str | Path | None = None,
    env: dict[str, str] | None = None,
    need_secrets: bool = True,
) -> Config:
    """Load and validate the configuration directory (default: $BALKANWATCH_CONFIG or config/).

    `need_secrets=False` is for commands that read the archive only (status, search): they run
    without the environment variables that carry subscribers' secrets."""
    env = dict(os.environ) if env is None else env
    root = Path(directory or env.get("BALKANWATCH_CONFIG") or DEFAULT_CONFIG_DIR)
    if not root.is_dir():
        raise ConfigError(f"{root}: configuration directory not found")
    settings_path = root / "settings.yaml"
    try:
        settings = Settings.model_validate(_read_yaml(settings_path, env, need_secrets))
    except ValidationError as e:
        raise ConfigError(f"{settings_path}: {_describe(e)}") from None
    outlets_path, topics_path, subs_path = (root / f for f in CONFIG_FILES[1:])
    outlets = _entries(outlets_path, _read_yaml(outlets_path, env, need_secrets), "outlets", Outlet)
    topics = _entries(topics_path, _read_yaml(topics_path, env, need_secrets), "topics", Topic)
    _check_keywords(topics_path, topics)
    subscribers = _entries(
        subs_path, _read_yaml(subs_path, env, need_secrets), "subscribers", Subscriber
    )
    _check_references(settings_path, subs_path, settings, topics, subscribers)
    if settings.templates_dir and not Path(settings.templates_dir).is_dir():
        raise ConfigError(
            f"{settings_path}: templates_dir {settings.templates_dir}: no such directory"
        )
    return Config(root, settings, outlets, topics, subscribers, database_of(settings, env))


def database_of(settings: Settings, env: Mapping[str, str]) -> Path | str:
    """BALKANWATCH_DB or the `database` setting: a postgresql:// URL as given, else a path."""
    raw = env.get("BALKANWATCH_DB") or settings.database
    return raw if raw.startswith(("postgresql://", "postgres://")) else Path(raw)


def _check_keywords(path: Path, topics: list[Topic]) -> None:
    """Check each keyword's grammar now, so a keyword the matcher cannot use stops start-up."""
    for i, topic in enumerate(topics):
        try:
            check_topic_terms(topic.keywords, topic.aliases, topic.require, topic.exclude)
        except ValueError as e:
            raise ConfigError(f"{path}: topics[{i}] ({topic.name}): {e}") from None


def _check_references(
    settings_path: Path,
    subs_path: Path,
    settings: Settings,
    topics: list[Topic],
    subscribers: list[Subscriber],
) -> None:
    topic_names = {t.name for t in topics}
    for i, s in enumerate(subscribers):
        for t in s.topics or []:
            if t not in topic_names:
                raise ConfigError(
                    f"{subs_path}: subscribers[{i}] ({s.name}): unknown topic {t!r}"
                    f" (topics.yaml has: {', '.join(sorted(topic_names)) or 'none'})"
                )
    names = {s.name for s in subscribers}
    for op in settings.operators:
        if op not in names:
            raise ConfigError(f"{settings_path}: operators: unknown subscriber {op!r}")
