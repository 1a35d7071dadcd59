"""Tests for balkanwatch/analysis/language.py, directly and through extract_article.

The texts are news-style paragraphs written for these tests in each standard, with the
features a reader of the region would use to tell them apart (jat reflex, lexis).
"""

from __future__ import annotations

import pytest

from balkanwatch.analysis.extract import extract_article
from balkanwatch.analysis.language import detect, resolve, script

ALBANIAN = (
    "Qeveria e Kosovës miratoi të enjten projektbuxhetin për vitin e ardhshëm, pas një debati "
    "të gjatë në Kuvend. Ministri i Financave tha se pagat në sektorin publik do të rriten dhe "
    "se investimet kapitale në rrugë dhe shkolla do të arrijnë një nivel rekord. Opozita "
    "kritikoi qeverinë që nuk ka konsultuar komunat në veri."
)
SERBIAN_CYRILLIC = (
    "Председник Србије је данас у Београду разговарао са изаслаником Европске уније о "
    "ситуацији на Косову и присуству КФОР-а. Према његовим речима, НАТО остаје гарант "
    "безбедности, а дијалог који води Брисел мора да се настави. Он је рекао да ће "
    "влада ове недеље представити нови предлог."
)
SERBIAN_LATIN = (
    "Predsednik Srbije je danas u Beogradu razgovarao sa izaslanikom Evropske unije o situaciji "
    "na Kosovu. Prema njegovim rečima, dijalog mora da se nastavi, a vlada će ove nedelje "
    "predstaviti novi predlog. On je rekao da je sada pravo vreme za dogovor i da Srbija uvek "
    "poštuje preuzete obaveze, takođe i prema opštinama na severu."
)
MACEDONIAN = (
    "Собранието денеска ја усвои одлуката за распишување предвремени парламентарни избори, "
    "по долга расправа меѓу владејачкото мнозинство и опозицијата во Скопје. Државната "
    "изборна комисија соопшти дека подготовките ќе започнат веднаш, а гласањето ќе се "
    "одржи во април, со набљудувачи од ОБСЕ."
)
BOSNIAN = (
    "Vijeće ministara Bosne i Hercegovine je na sjednici u Sarajevu usvojilo prijedlog budžeta "
    "za narednu godinu. Ministar je rekao da će plate biti povećane prije ljeta, a da je više "
    "od hiljadu radnika dobilo posao ove sedmice. Sjednica je trajala duže nego obično, jer "
    "je bilo potrebno vrijeme da se usaglase svi prijedlozi."
)
CROATIAN = (
    "Vlada je u četvrtak u Zagrebu usvojila prijedlog proračuna za iduću godinu. Ministar "
    "financija rekao je da će plaće u javnom sektoru porasti prije ljeta, a da je tijekom "
    "prošlog tjedna više od tisuću radnika dobilo posao. Europska komisija pozdravila je "
    "odluku, a oporba traži raspravu u Saboru do kraja listopada."
)
ENGLISH = (
    "The government in Pristina adopted the draft budget on Thursday after a long debate in "
    "which the opposition accused ministers of ignoring the municipalities in the north. The "
    "finance minister said that salaries in the public sector would rise and that capital "
    "investment in roads and schools would reach a record level."
)
BCMS_UNDECIDED = (  # nothing marks the standard: Bosnian, Croatian or Serbian alike
    "Ministrica je u četvrtak u Šibeniku najavila da će se cesta prema Đakovu obnoviti do "
    "kraja godine. Građani Čačka i Žepča pozdravili su odluku i traže završetak radova, a "
    "načelnik je rekao da su radovi počeli na vrijeme i da nema razloga za brigu."
)
RUSSIAN = (
    "Министр иностранных дел России заявил, что переговоры о ситуации на Балканах будут "
    "продолжены в следующем месяце. По его словам, позиция Москвы не изменилась, и "
    "всё зависит от готовности сторон к компромиссу."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(ALBANIAN, "sq", id="sq"),
        pytest.param(SERBIAN_CYRILLIC, "sr", id="sr-cyrillic"),
        pytest.param(SERBIAN_LATIN, "sr", id="sr-latin"),
        pytest.param(MACEDONIAN, "mk", id="mk"),
        pytest.param(BOSNIAN, "bs", id="bs"),
        pytest.param(CROATIAN, "hr", id="hr"),
        pytest.param(ENGLISH, "en", id="en"),
        pytest.param(BCMS_UNDECIDED, "sh", id="bcms-undecided"),
        pytest.param(RUSSIAN, None, id="not-a-language-of-ours"),
        pytest.param("Vlada je usvojila budžet.", None, id="too-short-to-tell"),
    ],
)
def test_detect(text: str, expected: str | None) -> None:
    assert detect(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(SERBIAN_CYRILLIC, "cyrillic", id="cyrillic"),
        pytest.param(SERBIAN_LATIN, "latin", id="latin"),
        pytest.param("Predsednik Vučić je rekao да ће", "latin", id="mixed-majority"),
        pytest.param("宮崎県で震度5弱", None, id="neither"),
        pytest.param("123 — 456", None, id="no-letters"),
    ],
)
def test_script(text: str, expected: str | None) -> None:
    assert script(text) == expected


@pytest.mark.parametrize(
    ("declared", "text", "expected"),
    [
        pytest.param("en", ALBANIAN, ("sq", None), id="template-default-over-albanian"),
        pytest.param("sr", SERBIAN_CYRILLIC, ("sr", "cyrillic"), id="serbian-cyrillic"),
        pytest.param(None, SERBIAN_LATIN, ("sr", "latin"), id="serbian-latin-undeclared"),
        pytest.param("hr", BCMS_UNDECIDED, ("hr", None), id="declared-standard-wins"),
        pytest.param("bs", SERBIAN_LATIN, ("bs", "latin"), id="outlet-knows-its-standard"),
        pytest.param("en", BCMS_UNDECIDED, (None, "latin"), id="undecided-falls-to-outlet"),
        pytest.param(None, CROATIAN, ("hr", None), id="croatian-undeclared"),
        pytest.param("en", MACEDONIAN, ("mk", None), id="macedonian-over-template-default"),
        pytest.param("ru", RUSSIAN, ("ru", None), id="other-languages-keep-declaration"),
    ],
)
def test_resolve(declared: str | None, text: str, expected: tuple) -> None:
    assert resolve(declared, text) == expected


def page(text: str, lang: str) -> str:
    return (
        f"<html lang='{lang}'><head><title>Vijest</title></head><body><nav><a href='/'>Home</a>"
        f"</nav><article><h1>Naslov vijesti</h1><p>{text}</p></article></body></html>"
    )


@pytest.mark.parametrize(
    ("text", "lang", "language", "script_"),
    [
        pytest.param(ALBANIAN, "en-US", "sq", None, id="sq"),
        pytest.param(SERBIAN_CYRILLIC, "sr-Cyrl-RS", "sr", "cyrillic", id="sr-cyrillic"),
        pytest.param(SERBIAN_LATIN, "en-US", "sr", "latin", id="sr-latin"),
        pytest.param(MACEDONIAN, "en-US", "mk", None, id="mk"),
        pytest.param(BOSNIAN, "bs-BA", "bs", "latin", id="bs"),
        pytest.param(CROATIAN, "en-US", "hr", None, id="hr"),
        pytest.param(ENGLISH, "sq", "en", None, id="en"),
        pytest.param(BCMS_UNDECIDED, "en-US", None, "latin", id="bcms-to-outlet"),
    ],
)
def test_extracted_language_and_script(
    text: str, lang: str, language: str | None, script_: str | None
) -> None:
    extracted = extract_article(page(text, lang))
    assert extracted is not None
    assert (extracted.language, extracted.script) == (language, script_)
