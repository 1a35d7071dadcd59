"""One article URL filter per outlet, for every link source (homepage, feed, sitemap).

The outlet's configured ``article_pattern`` decides when there is one. Otherwise the outlet's
URL templates are learned from its own feed and sitemap items (``urltemplates``): feeds list
mostly articles, but also tag, section, author and video-gallery pages, so only items whose URL
names one item (a date, an id, a slug with an id, a long headline slug) and carries no
navigation segment teach anything. The same examples make the homepage classifier
(``linkclass``) judge that outlet's links by its learned templates.

Pure functions; the crawler stores the examples per outlet between runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from balkanwatch.analysis.linkclass import Verdict, classify_links, judge_url
from balkanwatch.analysis.urltemplates import (
    MIN_EXAMPLES,
    UrlFilter,
    learn_templates,
    path_tokens,
    query_ids,
)

__all__ = ["MAX_EXAMPLES", "OutletFilter", "merge_examples", "series_names", "teaching_urls"]

# Examples kept per outlet, newest first: enough for every URL form an outlet uses in a few
# days of its feed, few enough that learning stays a few milliseconds.
MAX_EXAMPLES = 200
# linkclass scores a URL with an identity 3, a headline slug of four words or more 2, of three
# words 1: from 1 an item may teach (a two-word slug is as often a name: a team, a tag);
# from 2 it is admitted even where no template matches yet.
_TEACHES = 1.0
_ADMITS = 2.0


def teaching_urls(urls: Iterable[str]) -> list[str]:
    """The listed URLs that may teach the outlet's article templates, in order: not the
    items of a series (see ``series_names``)."""
    urls = list(dict.fromkeys(urls))
    series = series_names(urls)
    return [u for u in urls if judge_url(u)[0] >= _TEACHES and _name(u) not in series]


def _name(url: str) -> tuple[str, ...] | None:
    """A URL's words without its numbers: ``/ktv/81568/koha-e-lajmeve/`` -> (ktv,
    koha-e-lajmeve); None without a slug (nothing names the item but its id)."""
    tokens = path_tokens(url)
    if not any(t.cls == "slug" for t in tokens):
        return None
    return tuple(t.text for t in tokens if t.cls in ("word", "slug"))


def series_names(urls: Iterable[str]) -> set[tuple[str, ...]]:
    """Names that a listing carries under several ids: a photo gallery of the day, a TV
    programme's episodes. Articles have one headline each; a series repeats its name."""
    seen: dict[tuple[str, ...], set[str]] = {}
    for url in urls:
        name = _name(url)
        if name is not None:
            seen.setdefault(name, set()).add(url)
    return {name for name, members in seen.items() if len(members) >= 2}


def merge_examples(
    new: Sequence[str], stored: Sequence[str], limit: int = MAX_EXAMPLES
) -> list[str]:
    """This run's teaching URLs first, then the stored ones, without repeats, at most
    ``limit``: an outlet that changes its URL scheme is soon judged by the new one alone."""
    return list(dict.fromkeys([*teaching_urls(new), *stored]))[:limit]


def _section_path(url: str) -> bool:
    tokens = path_tokens(url)
    return bool(tokens) and all(t.cls == "word" for t in tokens) and not query_ids(url)


@dataclass(frozen=True)
class OutletFilter:
    """Which URLs of an outlet are articles."""

    pattern: str | None = None
    examples: tuple[str, ...] = ()
    learned: UrlFilter = field(default_factory=UrlFilter)
    series: frozenset[tuple[str, ...]] = frozenset()

    @classmethod
    def build(
        cls, pattern: str | None, examples: Sequence[str], listed: Iterable[str] = ()
    ) -> OutletFilter:
        """The filter from the configured pattern, else from the stored examples; ``listed``
        (the listing about to be judged) names the series it carries."""
        if pattern:
            return cls(pattern=pattern, learned=UrlFilter.from_pattern(pattern))
        examples = tuple(examples)
        return cls(
            examples=examples,
            learned=learn_templates(examples),
            series=frozenset(series_names(listed)),
        )

    @property
    def source(self) -> str:
        if self.pattern:
            return "article_pattern"
        if self.learned:
            return f"templates learned from {self.learned.examples} feed/sitemap items"
        return "no templates yet"

    def admits(self, url: str) -> tuple[bool, str]:
        """Whether a feed or sitemap item goes to extraction, and why."""
        if self.pattern:
            ok = self.learned.matches(url)
            return ok, "matches article_pattern" if ok else "does not match article_pattern"
        score, why = judge_url(url)
        if score <= -10:  # navigation, an asset: never an article, learned or not
            return False, why
        series = _name(url) in self.series
        if series and self.learned and not self.learned.matches(url):
            # A name repeated under several ids (photo of the day) is no article, unless it has
            # the form of the outlet's articles; with nothing learned yet the outlet's own feed
            # is the authority: a feed's word must not be lost lightly.
            return False, "one of a series (a name repeated under several ids)"
        if not self.learned:
            # Nothing learned: the outlet's own feed or sitemap is the authority on what it lists,
            # short word-only article paths (/lajme/cmimet) included; a directory still is not.
            if _section_path(url) and urlsplit(url).path.endswith("/"):
                return False, why
            return True, "no templates yet"
        if _section_path(url):  # /galerija/, /sport/fudbal/: words only name a listing
            return False, why
        if self.learned.matches(url):
            return True, "matches a learned template"
        # A new URL form with an identity of its own is one the outlet just started using;
        # it becomes a template on the next learning (merge_examples puts it first).
        if score >= _ADMITS:
            return True, f"no learned template, but {why}"
        return False, f"no learned template; {why}"

    def homepage(self, html: bytes | str, base_url: str, domains: Iterable[str]) -> list[Verdict]:
        """Verdicts on a homepage's links: by article_pattern when configured, else by the
        classifier with the outlet's examples (cold below MIN_EXAMPLES)."""
        if self.pattern:
            return [
                Verdict(v.url, self.learned.matches(v.url), v.score, "article_pattern", v.title)
                for v in classify_links(html, base_url, domains)
            ]
        examples = self.examples if len(self.examples) >= MIN_EXAMPLES else ()
        return classify_links(html, base_url, domains, examples)
