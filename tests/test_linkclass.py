"""Article links of homepages without examples and with three: golden labels per site.

Real pages: tests/fixtures/homepages/*.html (saved around 2018, see SOURCE.md); hand-made
pages in other CMS shapes: tests/fixtures/homepages/synthetic/. Each page has a
``<site>.labels.json`` with the article URLs decided by reading the HTML (its ``note`` says
how), the other own-domain links, and three example article URLs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from balkanwatch.analysis.linkclass import Verdict, article_urls, classify_links
from balkanwatch.analysis.urls import registered_domain

HOMEPAGES = Path(__file__).resolve().parent / "fixtures" / "homepages"
REAL = sorted(HOMEPAGES.glob("*.labels.json"))
SYNTHETIC = sorted((HOMEPAGES / "synthetic").glob("*.labels.json"))


def labelled(path: Path) -> tuple[dict, bytes]:
    labels = json.loads(path.read_text(encoding="utf-8"))
    return labels, path.with_name(path.name.replace(".labels.json", ".html")).read_bytes()


def precision_recall(path: Path, warm: bool) -> tuple[float, float]:
    labels, html = labelled(path)
    examples = labels["examples"] if warm else []
    domains = [registered_domain(labels["homepage"])]
    found = set(article_urls(html, labels["homepage"], domains, examples))
    gold = set(labels["articles"])
    hits = len(found & gold)
    return (hits / len(found) if found else 0.0), hits / len(gold)


def test_label_files_cover_every_link_once() -> None:
    assert len(REAL) == 3 and len(SYNTHETIC) == 3
    for path in REAL + SYNTHETIC:
        labels, html = labelled(path)
        articles, others = set(labels["articles"]), set(labels["not_articles"])
        assert articles and not articles & others
        assert len(labels["examples"]) == 3 and labels["note"]
        judged = classify_links(html, labels["homepage"], [registered_domain(labels["homepage"])])
        assert {v.url for v in judged} == articles | others, path.name


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name.split(".labels")[0])
def test_real_homepages_cold(path: Path) -> None:
    precision, recall = precision_recall(path, warm=False)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name.split(".labels")[0])
def test_real_homepages_with_three_examples(path: Path) -> None:
    precision, recall = precision_recall(path, warm=True)
    assert precision >= 0.98 and recall >= 0.98, (precision, recall)


@pytest.mark.parametrize("path", SYNTHETIC, ids=lambda p: p.name.split(".labels")[0])
def test_other_cms_shapes(path: Path) -> None:
    # Cold, a Drupal page whose headline slugs carry no id or date loses one 3-word headline
    # (recall 12/13): the bound says so rather than hide it.
    cold = precision_recall(path, warm=False)
    warm = precision_recall(path, warm=True)
    assert min(cold) >= 0.9, cold
    assert min(warm) >= 0.98, warm


def test_verdicts_carry_evidence_and_titles() -> None:
    labels, html = labelled(HOMEPAGES / "koha.net.labels.json")
    verdicts = {v.url: v for v in classify_links(html, labels["homepage"], ["koha.net"])}
    story = verdicts["https://www.koha.net/bote/81611/rusia-debon-23-diplomate-britanike/"]
    assert story.article and "numeric id" in story.evidence
    assert story.title == "Rusia dëbon 23 diplomatë britanikë"
    slot = verdicts["https://www.koha.net/ktv/81573/koha-e-lajmeve/"]
    assert not slot.article and "series" in slot.evidence
    assert not verdicts["https://www.koha.net/lajme/"].article


def test_series_and_name_lists_are_not_articles() -> None:
    page = """<html><body>
      <div class="news">
        <a href="/vijesti/nova-vlada-izabrana-u-skupstini-nakon-duge-rasprave/123456">
        Nova vlada izabrana u skupštini nakon duge rasprave</a></div>
      <div class="news">
        <a href="/vijesti/poskupljuje-struja-od-prvog-jula-za-sva-domacinstva/123457">
        Poskupljuje struja od prvog jula za sva domaćinstva</a></div>
      <div class="gal"><a href="/foto/foto-dana/123450">Foto dana</a></div>
      <div class="gal"><a href="/foto/foto-dana/123440">Foto dana</a></div>
      <ul><li><a href="/klubovi/sarajevo">Sarajevo</a></li>
      <li><a href="/klubovi/zeljeznicar">Željo</a></li>
      <li><a href="/klubovi/velez-mostar">Velež</a></li>
      <li><a href="/klubovi/borac-banja-luka">Borac</a></li></ul>
    </body></html>"""
    found = article_urls(page, "https://example.ba/", ["example.ba"])
    assert found == [
        "https://example.ba/vijesti/nova-vlada-izabrana-u-skupstini-nakon-duge-rasprave/123456",
        "https://example.ba/vijesti/poskupljuje-struja-od-prvog-jula-za-sva-domacinstva/123457",
    ]


@pytest.mark.parametrize("page", [b"", "<html></html>", "<p>no links</p>", b"\x00\xff garbage"])
def test_pages_without_links(page: bytes | str) -> None:
    assert classify_links(page, "https://example.org/") == []


def test_other_domains_and_assets_are_not_judged() -> None:
    page = (
        '<a href="https://other.example/vijesti/naslov-dugog-clanka-o-necemu/123456">x</a>'
        '<a href="/2024/05/17/slika-s-dogadjaja.jpg">photo</a>'
        '<a href="/2024/05/17/kfor-pojacao-patrole-na-sjeveru/">KFOR pojačao patrole na sjeveru</a>'
    )
    verdicts = classify_links(page, "https://example.org/")
    assert [(v.url, v.article) for v in verdicts] == [
        ("https://example.org/2024/05/17/kfor-pojacao-patrole-na-sjeveru/", True)
    ]
    assert isinstance(verdicts[0], Verdict) and "date" in verdicts[0].evidence
