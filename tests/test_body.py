"""Tests for balkanwatch/analysis/body.py: articleBody reconciliation and outlet furniture."""

from __future__ import annotations

import pytest

from balkanwatch.analysis.body import drop_furniture, learn_furniture, reconcile_with_article_body

PARAGRAPHS = [
    "The assembly in Skopje debated the amendment to the electoral law on Tuesday evening.",
    "Protesters gathered outside the building and demanded that the vote be postponed.",
    "The speaker said the session would continue until every deputy had spoken.",
    "Opposition parties announced that they would boycott the final vote on Friday.",
    "Observers from the OSCE said they would follow the procedure closely.",
    "The government expects the law to be in force before the local elections.",
]
ARTICLE = "\n".join(PARAGRAPHS)


@pytest.mark.parametrize(
    ("body", "article_body", "expected"),
    [
        pytest.param(
            "\n".join(
                [
                    *PARAGRAPHS[:3],
                    "Subscribe to our newsletter for daily updates now",
                    *PARAGRAPHS[3:],
                ]
            ),
            ARTICLE,
            ARTICLE,
            id="line-it-lacks-dropped",
        ),
        pytest.param(
            "\n".join(PARAGRAPHS[:3]),
            ARTICLE,
            ARTICLE,
            id="tail-appended-when-we-stopped-early",
        ),
        pytest.param(
            "\n".join(PARAGRAPHS[:3]),
            " ".join(PARAGRAPHS),
            "\n".join([*PARAGRAPHS[:3], " ".join(PARAGRAPHS[3:])]),
            id="tail-of-a-one-paragraph-article-body",
        ),
        pytest.param(
            "\n".join([*PARAGRAPHS, "Subscribe to our newsletter for daily updates now"]),
            PARAGRAPHS[0],
            "\n".join([*PARAGRAPHS, "Subscribe to our newsletter for daily updates now"]),
            id="teaser-article-body-ignored",
        ),
        pytest.param(
            ARTICLE,
            "A different story about the budget in Pristina and salaries in the public sector "
            "that the page declares for some other article entirely, long enough to count.",
            ARTICLE,
            id="unrelated-article-body-ignored",
        ),
    ],
)
def test_reconcile_with_article_body(body: str, article_body: str, expected: str) -> None:
    assert reconcile_with_article_body(body, article_body) == expected


def test_furniture_learnt_from_an_outlets_pages_is_dropped() -> None:
    box = "Subscribe to our newsletter and get the Balkans briefing every morning"
    credit = "Photo: Agency Beta / Ivan Ivanović"
    background = "Kosovo declared independence in 2008 and Serbia does not recognise it."
    others = [
        f"Story one has its own first paragraph about Skopje.\n{credit}\n{box}",
        f"Story two reports on the assembly in Podgorica.\n{box}\n{background}",
        f"Story three covers a strike in Tuzla.\n{credit}\n{box}",
        f"Story four has no boxes at all, only its text about Zagreb.\n{background}",
        f"Story five is about the harvest in Vojvodina.\n{credit}\n{box}",
        f"Story six is about trains from Belgrade to Budapest.\n{box}",
    ]
    furniture = learn_furniture(others)
    # the background paragraph two stories share is theirs: three pages are the least
    assert furniture == {
        "subscribe to our newsletter and get the balkans briefing every morning",
        "photo agency beta ivan ivanović",
    }
    body = (
        f"New story about Prizren and its festival.\nAnalysis\n{credit}\nSecond paragraph.\n{box}"
    )
    assert drop_furniture(body, furniture) == (
        "New story about Prizren and its festival.\nAnalysis\nSecond paragraph.",
        (credit, box),
    )
    assert drop_furniture(f"{box}\n{credit}", furniture) == (f"{box}\n{credit}", ())
    assert learn_furniture(others[:4]) == set()  # a few pages prove nothing
