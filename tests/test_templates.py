"""Templates: a user's `templates_dir` overrides shipped templates by file name, and the escaping
guarantees hold for an override as for the shipped ones.

The overrides below are written as a user would write them: other wording, and values printed
plainly (`{{ story.title }}`, `href="{{ story.url }}"`), with no escaping of their own. The
hostile-input tests of tests/test_render.py run again against them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from balkanwatch.app import web
from balkanwatch.app.health import Verdict, operator_message
from balkanwatch.core.config import ConfigError, Topic, load_config
from balkanwatch.delivery.alerts import sample_message
from balkanwatch.delivery.atom import FeedEntry, render_topic_feed
from balkanwatch.delivery.render import Message, StoryView, render_digest, render_instant
from balkanwatch.delivery.templating import SHIPPED, TemplateError, Templates, web_links_only
from balkanwatch.storage.store import Store
from tests import test_render
from tests.support import ROOT, write_config

BELGRADE = test_render.BELGRADE
STORY = test_render.STORY

OVERRIDES = {
    "instant.subject.txt": "Alert ({{ topic }}): {{ story.title }} / {{ story.outlet }}\n",
    "instant.txt": (
        "ALERT {{ story.title }}\n"
        "{{ story.outlet }}, {{ story.when }}\n"
        "{% for p in story.snippet %}{{ p.text }}{% endfor %}\n"
        "{{ story.url }}\n"
    ),
    "instant.md": (
        "*ALERT* {{ story.title }} ({{ story.outlet }})\n"
        "{% for p in story.snippet %}{{ p.text }}{% endfor %}\n"
        "{{ story.link|md_link }}\n"
        "{% for a in story.also %}{{ a.label }} {{ a.url }}\n{% endfor %}"
    ),
    "instant.html": (
        '<html><body><p style="font-size:18px">ALERT '
        '<a href="{{ story.url }}">{{ story.title }}</a></p>'
        "<p>{{ story.outlet }}, {{ story.when }}</p>"
        "<p>{% for p in story.snippet %}{{ p.text }}{% endfor %}</p>"
        '{% for a in story.also %}<p><a href="{{ a.url }}">{{ a.label }}</a></p>{% endfor %}'
        "</body></html>\n"
    ),
    "digest.subject.txt": "Digest for {{ subscriber }}: {{ count }}\n",
    "digest.txt": (
        "DIGEST {{ subscriber }}\n"
        "{% for topic, stories in groups %}{% for s in stories %}"
        "{{ s.title }} | {{ s.outlets }} | "
        "{% for p in s.snippet %}{{ p.text }}{% endfor %} | {{ s.url }}\n"
        "{% endfor %}{% endfor %}"
    ),
    "digest.md": (
        "*DIGEST* {{ subscriber }}\n"
        "{% for topic, stories in groups %}{% for s in stories %}"
        "{{ s.title }} {% for p in s.snippet %}{{ p.text }}{% endfor %} {{ s.link|md_link }}\n"
        "{% endfor %}{% endfor %}"
    ),
    "digest.html": (
        "<html><body><h1>DIGEST {{ subscriber }}</h1>"
        "{% for topic, stories in groups %}{% for s in stories %}"
        '<div><a href="{{ s.url }}">{{ s.title }}</a> {{ s.outlets }} {{ s.when }} '
        "{% for p in s.snippet %}{{ p.text }}{% endfor %} {{ s.url }}</div>"
        "{% endfor %}{% endfor %}</body></html>\n"
    ),
}


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("templates")
    for name, text in OVERRIDES.items():
        (directory / name).write_text(text, "utf-8")
    return directory


@pytest.fixture(scope="module")
def user(user_dir: Path) -> Templates:
    return Templates(user_dir)


@pytest.fixture
def renderers(user: Templates) -> Iterator[dict[str, Callable[[StoryView], Message]]]:
    start = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    end = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    yield {
        "instant": lambda story: render_instant(story, BELGRADE, user),
        "digest": lambda story: render_digest([story], start, end, BELGRADE, "newsdesk", user),
    }


KINDS = ["instant", "digest"]


# -- the override is used, the rest is shipped ------------------------------------------------


def test_override_replaces_the_shipped_wording(user: Templates) -> None:
    message = render_instant(STORY, BELGRADE, user)
    assert message.subject == (
        "Alert (Kosovo, NATO and KFOR): KFOR increases patrols in northern Kosovo / Balkan Insight"
    )
    assert message.text.startswith("ALERT KFOR increases patrols in northern Kosovo\n")
    assert user.source("instant.txt").startswith(str(user.directory))
    assert user.source("operator.txt") == str(SHIPPED / "operator.txt")


def test_templates_not_overridden_stay_shipped(tmp_path: Path) -> None:
    (tmp_path / "instant.txt").write_text("only {{ story.title }}\n", "utf-8")
    message = render_instant(STORY, BELGRADE, Templates(tmp_path))
    assert message.text == "only KFOR increases patrols in northern Kosovo\n"
    assert message.html == render_instant(STORY, BELGRADE).html


# -- the escaping tests of test_render, against the override ----------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_title_in_every_format(
    renderers: dict[str, Callable[[StoryView], Message]], kind: str
) -> None:
    test_render.test_hostile_title_in_every_format(renderers[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_snippet_cannot_mention_link_or_tag(
    renderers: dict[str, Callable[[StoryView], Message]], kind: str
) -> None:
    test_render.test_hostile_snippet_cannot_mention_link_or_tag(renderers[kind])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:text/html,<b>x</b>", "//evil.example/", "https://"]
)
def test_only_web_urls_become_links(
    renderers: dict[str, Callable[[StoryView], Message]], kind: str, url: str
) -> None:
    test_render.test_only_web_urls_become_links(renderers[kind], url)


@pytest.mark.parametrize("kind", KINDS)
def test_crlf_never_reaches_a_subject(
    renderers: dict[str, Callable[[StoryView], Message]], kind: str
) -> None:
    story = replace(STORY, title="a\r\nBcc: x@y", outlet="o\nX-H: 1", topic_title="t\r\n")
    subject = renderers[kind](story).subject
    assert "\r" not in subject and "\n" not in subject


def test_a_subject_template_with_line_breaks_makes_one_line(tmp_path: Path) -> None:
    """Even a template that writes line breaks itself gives a one-line subject."""
    (tmp_path / "instant.subject.txt").write_text(
        "{{ story.title }}\r\nBcc: x@y\n\n{{ 'x' * 500 }}\n", "utf-8"
    )
    subject = render_instant(STORY, BELGRADE, Templates(tmp_path)).subject
    assert "\n" not in subject and "\r" not in subject and len(subject) <= 200
    assert subject.startswith("KFOR increases patrols in northern Kosovo Bcc: x@y xxx")


@pytest.mark.parametrize(
    ("page", "kept"),
    [
        ('<a href="https://e.org/?a=1&amp;b=2">x</a>', True),
        ('<a href="/story/1">x</a>', True),
        ('<a href="#top">x</a>', True),
        ('<a href="javascript:alert(1)">x</a>', False),
        ('<a href="JaVaScRiPt&#58;alert(1)">x</a>', False),
        ("<a href='data:text/html,x'>x</a>", False),
        ('<img src="//evil.example/x.png">', False),
        ('<form action="vbscript:x">', False),
    ],
)
def test_web_links_only(page: str, kept: bool) -> None:
    assert (web_links_only(page) == page) is kept
    if not kept:
        assert "=" not in web_links_only(page)


# -- broken overrides are errors that name the template ---------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ story.titel }}", "template instant.txt: UndefinedError"),
        ("{% if story.title %}unclosed", "template instant.txt: TemplateSyntaxError"),
    ],
)
def test_a_broken_override_names_itself(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "instant.txt").write_text(text, "utf-8")
    with pytest.raises(TemplateError, match=message):
        render_instant(STORY, BELGRADE, Templates(tmp_path))


def test_an_atom_override_must_stay_xml(tmp_path: Path) -> None:
    entry = FeedEntry(
        url="https://e.org/a",
        title="A <b> & \x00 title",
        outlet="O",
        outlet_url=None,
        when=datetime(2026, 12, 1, tzinfo=UTC),
        updated=datetime(2026, 12, 1, tzinfo=UTC),
        published=True,
        summary="s",
        terms=("NATO",),
    )
    topic = Topic(name="t", title="T", keywords=["NATO"])
    (tmp_path / "atom-entry.xml").write_text(
        "<entry><title>{{ entry.title }}</title><id>{{ entry.url }}</id></entry>\n", "utf-8"
    )
    data = render_topic_feed(topic, [entry], entry.when, templates=Templates(tmp_path))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = etree.fromstring(data).xpath("//a:entry/a:title/text()", namespaces=ns)
    assert titles == ["A <b> & title"]  # escaped, and the NUL XML forbids is gone
    (tmp_path / "atom-entry.xml").write_text("<entry><title>{{ entry.title }}</entry>", "utf-8")
    with pytest.raises(TemplateError, match="atom.xml made invalid XML"):
        render_topic_feed(topic, [entry], entry.when, templates=Templates(tmp_path))


# -- templates_dir in settings.yaml reaches every kind ------------------------------------------


@pytest.fixture
def configured(tmp_path: Path) -> Path:
    templates = tmp_path / "my-templates"
    (templates / "web").mkdir(parents=True)
    (templates / "instant.subject.txt").write_text("Our desk: {{ story.title }}", "utf-8")
    (templates / "operator.txt").write_text("Ops: {{ outlet.outlet }} {{ outlet.state }}", "utf-8")
    (templates / "web" / "front.html").write_text(
        '{% extends "web/base.html" %}{% block main %}<h1>Our newsroom</h1>'
        "{% for s in page.sections %}<h2>{{ s.title }}</h2>{% endfor %}{% endblock %}",
        "utf-8",
    )
    outlets = [{"name": "rts", "homepage": "https://www.rts.rs/"}]
    return write_config(
        tmp_path / "config",
        outlets,
        subscribers=[{"name": "ops", "urls": ["json://localhost/"]}],
        settings={"templates_dir": str(templates), "database": str(tmp_path / "bw.sqlite")},
    )


def test_templates_dir_setting_reaches_alerts_operators_and_pages(configured: Path) -> None:
    cfg = load_config(configured, env={})
    assert sample_message(cfg).subject == "Our desk: balkanwatch test alert: Kosovo, NATO and KFOR"
    templates = Templates(cfg.settings.templates_dir)
    message = operator_message("rts", Verdict("failing", "3 failed"), "healthy", templates)
    assert message["text"] == "Ops: rts failing"
    assert message["subject"] == "[balkanwatch] rts is failing"  # not overridden
    Store(cfg.database).close()
    from tests.test_web import get

    status, html = get(cfg, "/")
    assert status == 200 and "<h1>Our newsroom</h1><h2>Kosovo, NATO and KFOR</h2>" in html


def test_a_missing_templates_dir_is_a_configuration_error(configured: Path) -> None:
    settings = configured / "settings.yaml"
    settings.write_text(
        re.sub(r"templates_dir: .*", "templates_dir: /no/such/dir", settings.read_text()), "utf-8"
    )
    with pytest.raises(ConfigError, match="templates_dir /no/such/dir: no such directory"):
        load_config(configured, env={})


# -- README documents every shipped template ---------------------------------------------------


def test_readme_documents_every_shipped_template() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    shipped = sorted(str(p.relative_to(SHIPPED)) for p in SHIPPED.rglob("*") if p.is_file())
    assert shipped, "no shipped templates found"
    missing = [name for name in shipped if f"`{name}`" not in readme]
    assert missing == [], f"README lacks {missing}"


def test_web_build_uses_the_configured_database_name(configured: Path) -> None:
    cfg = load_config(configured, env={})
    Store(cfg.database).close()
    ds = web.build(cfg)
    assert list(ds.databases) == ["_internal", "balkanwatch"]
