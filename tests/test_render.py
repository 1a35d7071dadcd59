"""Alert rendering: what a subscriber reads, and what an outlet's hostile text cannot do to it.

The Markdown part is checked after apprise's own Slack conversion (the plugin's
`dialect_convert`, no network), because that conversion is what reaches Slack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import apprise
import pytest
from apprise.conversion import convert_between

from balkanwatch.core.secrets import mask_secrets
from balkanwatch.delivery.render import (
    SUBJECT_MAX,
    Message,
    StoryView,
    clean_line,
    emphasis_spans,
    format_time,
    render_digest,
    render_instant,
)

BELGRADE = ZoneInfo("Europe/Belgrade")
HOSTILE = "<script>alert(1)</script>\r\nBcc: x@y"
SLACK = apprise.Apprise.instantiate("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/")


def slack(markdown: str) -> str:
    """What apprise posts to Slack for a body sent with body_format=MARKDOWN."""
    return SLACK.dialect_convert(markdown, apprise.NotifyFormat.MARKDOWN)  # type: ignore[union-attr]


STORY = StoryView(
    title="KFOR increases patrols in northern Kosovo",
    url="https://balkaninsight.com/2026/12/01/kfor-patrols/",
    outlet="Balkan Insight",
    published=datetime(2026, 12, 1, 7, 15, tzinfo=UTC),
    topic_title="Kosovo, NATO and KFOR",
    terms=["KFOR", "Kosovo"],
    snippet="The NATO-led KFOR mission said on Tuesday it would step up patrols in northern Kosovo",
    also=[
        ("Koha", "https://www.koha.net/arberi/123/kfor"),
        ("RTS", "https://www.rts.rs/lat/vesti/5012345.html"),
    ],
)


def digest(stories: list[StoryView]) -> Message:
    start = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    end = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    return render_digest(stories, start, end, BELGRADE, "newsdesk")


def instant(story: StoryView) -> Message:
    return render_instant(story, BELGRADE)


def digest_of_one(story: StoryView) -> Message:
    return digest([story])


RENDERERS = [pytest.param(instant, id="instant"), pytest.param(digest_of_one, id="digest")]


# -- what the reader sees --------------------------------------------------------------------


def test_instant_text_reads_on_its_own() -> None:
    assert instant(STORY).text == (
        "New story on Kosovo, NATO and KFOR:\n"
        "KFOR increases patrols in northern Kosovo\n"
        "Balkan Insight · 1 Dec 2026 08:15 CET\n"
        "Matched: KFOR, Kosovo\n"
        "\n"
        "The NATO-led *KFOR* mission said on Tuesday it would step up patrols in northern "
        "*Kosovo*\n"
        "\n"
        "Read it: https://balkaninsight.com/2026/12/01/kfor-patrols/\n"
        "\n"
        "Also reported by:\n"
        "- Koha: https://www.koha.net/arberi/123/kfor\n"
        "- RTS: https://www.rts.rs/lat/vesti/5012345.html\n"
    )


def test_instant_subject() -> None:
    assert instant(STORY).subject == (
        "[Kosovo, NATO and KFOR] KFOR increases patrols in northern Kosovo — Balkan Insight"
    )


def test_instant_slack_after_apprise_conversion() -> None:
    assert slack(instant(STORY).markdown) == (
        "New story on Kosovo, NATO and KFOR\n"
        "*<https://balkaninsight.com/2026/12/01/kfor-patrols/|"
        "KFOR increases patrols in northern Kosovo>*\n"
        "Balkan Insight · 1 Dec 2026 08:15 CET\n"
        "Matched: KFOR, Kosovo\n"
        "\n"
        "The NATO-led *KFOR* mission said on Tuesday it would step up patrols in northern "
        "*Kosovo*\n"
        "\n"
        "Also reported by: <https://www.koha.net/arberi/123/kfor|Koha>, "
        "<https://www.rts.rs/lat/vesti/5012345.html|RTS>\n"
    )


def test_instant_html_shows_everything() -> None:
    page = instant(STORY).html
    for part in [
        '<a href="https://balkaninsight.com/2026/12/01/kfor-patrols/"',
        ">KFOR increases patrols in northern Kosovo</a>",
        "Balkan Insight · 1 Dec 2026 08:15 CET",
        "The NATO-led <strong>KFOR</strong> mission",
        "northern <strong>Kosovo</strong></p>",
        "Matched: KFOR, Kosovo",
        'Also reported by: <a href="https://www.koha.net/arberi/123/kfor"',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
    ]:
        assert part in page


@pytest.mark.parametrize("render", RENDERERS)
def test_the_plain_part_apprise_makes_of_the_html_keeps_the_link(
    render: Callable[[StoryView], Message],
) -> None:
    """apprise e-mails HTML with a plain-text alternative converted from it, dropping hrefs."""
    text = convert_between(apprise.NotifyFormat.HTML, apprise.NotifyFormat.TEXT, render(STORY).html)
    assert STORY.url in text
    assert "Balkan Insight" in text and "1 Dec 2026 08:15 CET" in text


@pytest.mark.parametrize("render", RENDERERS)
def test_no_also_line_without_other_outlets(render: Callable[[StoryView], Message]) -> None:
    message = render(replace(STORY, also=()))
    assert "Also reported by" not in message.text + message.html + message.markdown
    assert "Koha" not in message.text + message.html + message.markdown


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (datetime(2026, 12, 1, 7, 15, tzinfo=UTC), "1 Dec 2026 08:15 CET"),
        (datetime(2026, 7, 1, 7, 15, tzinfo=UTC), "1 Jul 2026 09:15 CEST"),
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "1 Jan 2027 00:30 CET"),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "29 Mar 2026 03:00 CEST"),
    ],
)
def test_times_are_shown_in_the_configured_zone(moment: datetime, shown: str) -> None:
    assert format_time(moment, BELGRADE) == shown
    assert shown in instant(replace(STORY, published=moment)).text


def test_a_story_without_a_time_says_so() -> None:
    message = instant(replace(STORY, published=None))
    assert "Balkan Insight · time not given" in message.text


def test_cyrillic_title_and_snippet() -> None:
    story = replace(
        STORY,
        title="КФОР појачава патроле на северу Косова",
        outlet="Радио-телевизија Србије",
        terms=["КФОР", "Kosovo"],
        snippet="Мисија КФОР-а саопштила је да ће појачати патроле на Косову.",
        also=(),
    )
    message = instant(story)
    assert message.subject == (
        "[Kosovo, NATO and KFOR] КФОР појачава патроле на северу Косова — Радио-телевизија Србије"
    )
    assert "Мисија *КФОР*-а саопштила је да ће појачати патроле на *Косову*." in message.text
    assert "Мисија <strong>КФОР</strong>-а" in message.html
    assert "на <strong>Косову</strong>." in message.html
    converted = slack(message.markdown)
    assert "|КФОР појачава патроле на северу Косова>*" in converted
    assert "Мисија *КФОР*-а саопштила је да ће појачати патроле на *Косову*." in converted


# -- emphasis --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "terms", "marked"),
    [
        ("NATO-a i NATO", ["NATO"], ["NATO", "NATO"]),
        ("Natalija je natočio; donator", ["NATO"], []),
        ("Kosovu, Kosova i kosovski", ["Kosovo"], ["Kosovu", "Kosova", "kosovski"]),
        ("Kosovës", ["Kosov*"], ["Kosovës"]),
        ("Косово и НАТО-а", ["Kosovo", "NATO"], ["Косово", "НАТО"]),
        ("KFOR-i and КФОР", ["КФОР"], ["KFOR", "КФОР"]),
        ("Vučić met Vucic", ["Vučić"], ["Vučić", "Vucic"]),
        ("Šešelj, Шешељ", ["seselj"], ["Šešelj", "Шешељ"]),
        ("Đoković i Ђоковић", ["Djokovic"], ["Đoković", "Ђоковић"]),
        ("a b c", ["a", ""], []),
        ("", ["Kosovo"], []),
    ],
)
def test_emphasis_spans(text: str, terms: list[str], marked: list[str]) -> None:
    assert [text[a:b] for a, b in emphasis_spans(text, terms)] == marked


# -- hostile text from outlets ---------------------------------------------------------------


class Tags(HTMLParser):
    """Every tag and attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += attrs


def tags_of(page: str) -> Tags:
    parser = Tags()
    parser.feed(page)
    return parser


SAFE_TAGS = {"html", "head", "meta", "body", "div", "p", "h1", "h2", "a", "strong"}


@pytest.mark.parametrize("render", RENDERERS)
def test_hostile_title_in_every_format(render: Callable[[StoryView], Message]) -> None:
    story = replace(STORY, title=HOSTILE, outlet="Evil\nX-Header: 1", topic_title="T\u202eopic")
    message = render(story)

    for control in "\r\n\t\x00\u202e":
        assert control not in message.subject
    assert len(message.subject) <= SUBJECT_MAX

    assert "<script>alert(1)</script> Bcc: x@y" in message.text
    assert not any(line.startswith(("Bcc:", "X-Header:")) for line in message.text.splitlines())
    assert "\r" not in message.text

    assert "&lt;script&gt;alert(1)&lt;/script&gt; Bcc: x@y" in message.html
    page = tags_of(message.html)
    assert page.tags <= SAFE_TAGS
    assert {name for name, _ in page.attributes} <= {"href", "style", "charset", "name", "content"}

    converted = slack(message.markdown)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Bcc: x@y" in converted
    assert "<script" not in converted and "<!" not in converted


def test_instant_subject_of_a_hostile_title() -> None:
    assert instant(replace(STORY, title=HOSTILE)).subject == (
        "[Kosovo, NATO and KFOR] <script>alert(1)</script> Bcc: x@y — Balkan Insight"
    )


@pytest.mark.parametrize("render", RENDERERS)
def test_hostile_snippet_cannot_mention_link_or_tag(render: Callable[[StoryView], Message]) -> None:
    snippet = (
        "Kosovo <!channel> <@U024BE7LH> <!subteam^SAZ94GDB8> [click here](<https://evil.example/>) "
        "<https://evil.example/|login> # not a heading <img src=x onerror=alert(1)> AT&T"
    )
    message = render(replace(STORY, snippet=snippet))
    converted = slack(message.markdown)
    assert "<!" not in converted and "<@" not in converted
    assert "<https://evil" not in converted
    assert "&lt;!channel&gt;" in converted and "AT&amp;T" in converted
    page = tags_of(message.html)
    assert page.tags <= SAFE_TAGS
    assert all("evil" not in (value or "") for _, value in page.attributes)
    assert "<!channel>" in message.text  # plain text shows it as the outlet wrote it


@pytest.mark.parametrize("render", RENDERERS)
@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:text/html,<b>x</b>", "//evil.example/", "https://"]
)
def test_only_web_urls_become_links(render: Callable[[StoryView], Message], url: str) -> None:
    message = render(replace(STORY, url=url, also=[("Evil", url)]))
    assert all(name != "href" for name, _ in tags_of(message.html).attributes)
    assert "](<" not in message.markdown


@pytest.mark.parametrize(
    ("url", "href"),
    [
        ('https://e.org/a"onmouseover="x', "https://e.org/a%22onmouseover=%22x"),
        ("https://e.org/a b|c>d", "https://e.org/a%20b%7Cc%3Ed"),
        ("https://e.org/?a=1&b=2", "https://e.org/?a=1&b=2"),
        ("https://sr.wikipedia.org/wiki/Косово", "https://sr.wikipedia.org/wiki/Косово"),
    ],
)
def test_urls_are_encoded_not_broken(url: str, href: str) -> None:
    message = instant(replace(STORY, url=url, also=()))
    assert ("href", href) in tags_of(message.html).attributes
    assert f"*<{href.replace('&', '&amp;')}|" in slack(message.markdown)


def test_long_titles_are_trimmed_but_keep_topic_and_outlet() -> None:
    subject = instant(replace(STORY, title="Kosovo " * 100)).subject
    assert len(subject) <= SUBJECT_MAX
    assert subject.startswith("[Kosovo, NATO and KFOR] Kosovo Kosovo")
    assert subject.endswith("Kosovo… — Balkan Insight")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a\r\nb", "a b"),
        ("  a\t\tb  ", "a b"),
        ("a\x00b\x1bc", "a b c"),
        ("a\u2028b\u2029c", "a b c"),
        ("evil\u202etxt.exe", "evil txt.exe"),
        ("zero\u200bwidth", "zero width"),
        ("Ćevapi u Prištini", "Ćevapi u Prištini"),
    ],
)
def test_clean_line(raw: str, clean: str) -> None:
    assert clean_line(raw) == clean


# -- digests ---------------------------------------------------------------------------------


def at(hour: int, minute: int) -> datetime:
    return datetime(2026, 12, 1, hour, minute, tzinfo=BELGRADE)


KOSOVO_1 = replace(STORY, title="K early", url="https://a.example/1", published=at(8, 10))
KOSOVO_2 = replace(STORY, title="K late", url="https://a.example/2", published=at(8, 50), also=())
SERBIA_1 = replace(
    STORY, title="S timed", url="https://b.example/1", published=at(8, 30), topic_title="Serbia"
)
SERBIA_2 = replace(
    STORY, title="S untimed", url="https://b.example/2", published=None, topic_title="Serbia"
)
DIGEST_STORIES = [KOSOVO_1, SERBIA_2, SERBIA_1, KOSOVO_2]


def order_in(body: str, needles: list[str]) -> list[str]:
    return sorted(needles, key=body.index)


@pytest.mark.parametrize("part", ["text", "html", "markdown"])
def test_digest_groups_by_topic_newest_first(part: str) -> None:
    body = getattr(digest(DIGEST_STORIES), part)
    wanted = ["Kosovo, NATO and KFOR", "K late", "K early", "Serbia", "S timed", "S untimed"]
    assert order_in(body, wanted) == wanted


def test_digest_text() -> None:
    assert digest([KOSOVO_2, SERBIA_2]).text == (
        "balkanwatch digest for newsdesk\n"
        "2 stories, 1 Dec 2026 08:00–09:00 CET\n"
        "\n"
        "== Kosovo, NATO and KFOR (1) ==\n"
        "\n"
        "* K late\n"
        "  Balkan Insight · 1 Dec 2026 08:50 CET\n"
        "  The NATO-led *KFOR* mission said on Tuesday it would step up patrols in northern "
        "*Kosovo*\n"
        "  https://a.example/2\n"
        "\n"
        "== Serbia (1) ==\n"
        "\n"
        "* S untimed\n"
        "  Balkan Insight, Koha, RTS · time not given\n"
        "  The NATO-led *KFOR* mission said on Tuesday it would step up patrols in northern "
        "*Kosovo*\n"
        "  https://b.example/2\n"
    )


def test_digest_slack_after_apprise_conversion() -> None:
    converted = slack(digest([KOSOVO_2]).markdown)
    assert converted.startswith("*balkanwatch digest for newsdesk*\n1 story, 1 Dec 2026 08:00")
    assert (
        "*Kosovo, NATO and KFOR* (1)\n• <https://a.example/2|K late> — Balkan Insight" in converted
    )


@pytest.mark.parametrize(
    ("stories", "start", "end", "subject"),
    [
        (
            DIGEST_STORIES,
            at(8, 0),
            at(9, 0),
            "balkanwatch digest: 4 stories, 1 Dec 2026 08:00–09:00",
        ),
        ([KOSOVO_1], at(8, 0), at(9, 0), "balkanwatch digest: 1 story, 1 Dec 2026 08:00–09:00"),
        # one story under two topics is one story
        (
            [KOSOVO_1, replace(KOSOVO_1, topic_title="Serbia")],
            datetime(2026, 11, 30, 8, 0, tzinfo=BELGRADE),
            at(8, 0),
            "balkanwatch digest: 1 story, 30 Nov 2026 08:00 – 1 Dec 2026 08:00",
        ),
        ([], at(8, 0), at(9, 0), "balkanwatch digest: 0 stories, 1 Dec 2026 08:00–09:00"),
    ],
)
def test_digest_subject(
    stories: list[StoryView], start: datetime, end: datetime, subject: str
) -> None:
    assert render_digest(stories, start, end, BELGRADE, "newsdesk").subject == subject


def test_an_empty_digest_says_so() -> None:
    message = digest([])
    assert "No new stories in this period." in message.text
    assert "No new stories in this period." in message.html


def test_digest_subscriber_name_is_untrusted_too() -> None:
    message = render_digest([], at(8, 0), at(9, 0), BELGRADE, "<b>desk</b>\r\nBcc: x")
    assert "&lt;b&gt;desk&lt;/b&gt; Bcc: x" in message.html
    assert "\nBcc" not in message.text


# -- secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # e-mail: the password goes, the user, server and recipients stay
        ("mailtos://user:hunter2@smtp.example.org?to=desk@example.org", "mailtos://user:****@smtp.example.org?to=desk@example.org"),
        ("mailtos://user:p@ss@smtp.example.org:587", "mailtos://user:****@smtp.example.org:587"),
        ("mailtos://user:pa/ss@smtp.example.org", "mailtos://user:****@smtp.example.org"),
        ("mailtos://smtp.example.org?user=me&pass=hunter2&to=a@b.org", "mailtos://smtp.example.org?user=me&pass=****&to=a@b.org"),
        ("mailto://desk@gmail.com", "mailto://desk@gmail.com"),
        # Slack: every token, whether host or path; the channel stays
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#balkans", "slack://****/****/****/#balkans"),
        ("slack://bot@xoxb-1234-1234-4ddbc191d40ee098cbaae6f3523ada2d/#news/@anna", "slack://****@****/#news/@anna"),
        ("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "https://hooks.slack.com/services/****/****/****"),
        # Discord, Telegram, Teams, Pushover, Twilio, ntfy, Gotify, Matrix
        ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "discord://****/****"),
        ("https://discord.com/api/webhooks/123456789012345678/abcDEF-ghi_JKL", "https://discord.com/api/webhooks/****/****"),
        ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123456", "tgram://****/****"),
        ("https://api.telegram.org/bot123456789:AAHdqTcv/sendMessage", "https://api.telegram.org/****/****"),
        ("msteams://TokenA/TokenB/TokenC/", "msteams://****/****/****/"),
        ("pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@azGDORePK8gMaC0QOYAMyEEuzJnyUi/", "pover://****@****/"),
        ("twilio://AC123:authtoken@15551233456/15555556789", "twilio://****:****@****/****"),
        ("ntfy://ntfy.example.org/secret-topic", "ntfy://ntfy.example.org/****"),
        ("gotify://gotify.example.org/AbCdEf123456", "gotify://gotify.example.org/****"),
        ("matrix://bot:pw@matrix.example.org/#room:example.org", "matrix://bot:****@matrix.example.org/#room:example.org"),
        # generic JSON webhooks: path and query secrets, headers
        ("json://localhost:8080/notify?token=abc123&format=markdown", "json://localhost:8080/****?token=****&format=markdown"),
        ("jsons://u:pw@hooks.example.org/x?+X-Api-Key=s3cret&-Drop", "jsons://u:****@hooks.example.org/****?+X-Api-Key=****&****"),
        # web pages stay readable; only credentials and token-like parts go
        ("https://user:pw@example.org/feed", "https://user:****@example.org/feed"),
        ("https://balkaninsight.com/2026/12/01/kosovo-nato-talks/", "https://balkaninsight.com/2026/12/01/kosovo-nato-talks/"),
        ("https://www.rts.rs/lat/vesti/politika/5012345/kosovo.html", "https://www.rts.rs/lat/vesti/politika/5012345/kosovo.html"),
        ("https://api.example.org/hook/Xk29fLq0aB7", "https://api.example.org/hook/****"),
        # anywhere in a string, punctuation after a URL kept
        ("send to slack://T1/B2/C3: HTTP 403.", "send to slack://****/****/****: HTTP 403."),
        ("['tgram://123:ABC/456', 'mailto://a:b@x.org']", "['tgram://****/****', 'mailto://a:****@x.org']"),
        ("urls=(discord://1/2)", "urls=(discord://****/****)"),
        ("no URL here: user:pass@host", "no URL here: user:pass@host"),
    ],
)  # fmt: skip
def test_mask_secrets(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked
    assert mask_secrets(masked) == masked  # masking twice changes nothing
