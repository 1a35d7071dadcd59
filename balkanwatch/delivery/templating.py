"""The templates every message and page is written from (Jinja2), and the user's overrides.

The shipped templates live in `balkanwatch/delivery/templates/`; `settings.templates_dir` names a
directory whose files replace shipped ones of the same relative name (`instant.txt`,
`web/front.html`, ...), so the wording is the user's without touching the code. README lists
each template and its variables.

A template's file name says its format, and the format its escaping, which holds whether the
template is shipped or the user's (a template never has to remember to escape):
- `.html`: HTML, autoescaped by Jinja2;
- `.xml`: XML (Atom), autoescaped, and characters XML forbids removed from every value;
- `.md`: Markdown (Slack and other chat services), every value passed through `md_escape`
  except the `MarkdownText` that filters such as `md_link` make;
- `.txt`: plain text, values as they are (the view models hold them on one clean line each).
Subjects are made one line and bounded after rendering (`render.py`), so no template can put a
header into a mail.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from balkanwatch.delivery.escaping import md_escape, safe_url, trim

SHIPPED = Path(__file__).resolve().parent / "templates"

# What XML 1.0 forbids (and C1 controls and DEL, which only come from mis-decoded pages).
ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SPACES = re.compile(r"\s+")


class TemplateError(Exception):
    """A template is missing or broken; the message names it."""


class MarkdownText(str):
    """Markdown that is escaped already (a link made by `md_link`): printed as it is."""


def _md_finalize(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, MarkdownText):
        return value
    return md_escape(str(value))


def _text_finalize(value: Any) -> Any:
    return "" if value is None else value


def xml_clean(value: Any) -> Any:
    """A value safe in XML: forbidden characters removed and whitespace on one line."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _SPACES.sub(" ", ILLEGAL_XML.sub("", value)).strip()
    return value


def md_link(link: Any) -> MarkdownText:
    """`[label](<url>)` for a `Link` with a web URL, else the label alone, escaped."""
    target = safe_url(link.url)
    if target is None:
        return MarkdownText(md_escape(link.label))
    return MarkdownText(f"[{md_escape(link.label)}](<{target}>)")


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# A link attribute in double or single quotes; autoescaping keeps both quotes out of values.
_LINK_ATTRIBUTE = re.compile(r"""\s(?:href|src|action)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)
_RELATIVE = re.compile(r"(?:/(?!/)|#|\?)")


def web_links_only(page: str) -> str:
    """`page` without the link attributes that point anywhere but to an http(s) URL or a path of
    this site: a template that links to `story.url` (the address as text) instead of
    `story.link.href` cannot make a `javascript:` link of an outlet's URL."""

    def keep(found: re.Match[str]) -> str:
        value = html.unescape(found.group(1) if found.group(1) is not None else found.group(2))
        return found.group(0) if safe_url(value) or _RELATIVE.match(value) else ""

    return _LINK_ATTRIBUTE.sub(keep, page)


FILTERS: dict[str, Callable[..., Any]] = {
    "cut": lambda value, limit: trim(str(value), int(limit)),  # at a word, with "…"
    "md_link": md_link,
    "rfc3339": rfc3339,
    "utc_minute": lambda moment: moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
    "xml_clean": xml_clean,
}


def _environment(loader: ChoiceLoader, **options: Any) -> Environment:
    env = Environment(
        loader=loader,
        trim_blocks=True,  # a line holding only a block tag leaves no blank line behind
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,  # a misspelt variable in an override is an error, not ""
        **options,
    )
    env.filters.update(FILTERS)
    return env


class Templates:
    """The templates of one `templates_dir` (or only the shipped ones), by format."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory else None
        if self.directory is not None and not self.directory.is_dir():
            raise TemplateError(f"templates_dir {self.directory}: not a directory")
        dirs = [self.directory, SHIPPED] if self.directory else [SHIPPED]
        loader = ChoiceLoader([FileSystemLoader(str(d)) for d in dirs])
        self._by_suffix = {
            ".html": _environment(loader, autoescape=True, finalize=_text_finalize),
            ".xml": _environment(loader, autoescape=True, finalize=xml_clean),
            ".md": _environment(loader, autoescape=False, finalize=_md_finalize),
            ".txt": _environment(loader, autoescape=False, finalize=_text_finalize),
        }

    def render(self, name: str, **context: Any) -> str:
        suffix = Path(name).suffix
        env = self._by_suffix.get(suffix)
        if env is None:
            raise TemplateError(f"{name}: a template name ends in .html, .xml, .md or .txt")
        try:
            text = env.get_template(name).render(**context)
            return web_links_only(text) if suffix == ".html" else text
        except TemplateNotFound:
            raise TemplateError(f"template {name} not found") from None
        except Exception as e:  # a user's template: say which one failed and why
            raise TemplateError(f"template {name}: {type(e).__name__}: {e}") from e

    def source(self, name: str) -> str:
        """Where `name` is read from: the user's directory or the shipped templates."""
        if self.directory and (self.directory / name).is_file():
            return str(self.directory / name)
        return str(SHIPPED / name)


@lru_cache(maxsize=8)
def templates_for(directory: str | None = None) -> Templates:
    """One `Templates` per directory, so compiled templates are reused."""
    return Templates(directory)
