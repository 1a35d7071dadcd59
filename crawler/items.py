"""What the spider hands to the pipelines: a fetched article page, not yet extracted."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ArticlePage:
    url: str  # canonical form of the URL that was requested
    outlet: str
    html: bytes = field(repr=False)  # logged items would carry whole pages
    charset: str | None  # what the HTTP header declared; decoded by balkanwatch.analysis.charset
    response_url: str  # after redirects
    fetched_at: str
    feed_title: str | None = None  # what the feed or sitemap said, used when extraction has none
    feed_published: str | None = None
    aliases: list[str] = field(default_factory=list)
    language: str | None = None  # the outlet's, for judging which decoding reads right
