"""Topic matching: folding, inflected forms and traps per language, phrases, prefixes,
require/exclude, what a match reports, and precision/recall on the labelled corpus."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from balkanwatch.analysis.topics import SNIPPET_CHARS, TopicMatch, TopicMatcher
from balkanwatch.core.config import Topic
from balkanwatch.core.folding import fold as normalise

DATA = Path(__file__).resolve().parent / "data"
CORPUS = DATA / "topics_corpus.jsonl"
CORPUS_TOPICS = DATA / "topics_corpus_topics.yaml"


@dataclass(frozen=True)
class T:
    """A topic as the matcher sees it (balkanwatch.core.config.Topic has the same attributes)."""

    name: str
    keywords: Sequence[str]
    require: Sequence[str] = field(default_factory=list)
    exclude: Sequence[str] = field(default_factory=list)
    title: str = ""
    aliases: Mapping[str, Sequence[str]] = field(default_factory=dict)


def terms(keyword: str, text: str) -> list[str] | None:
    """The terms `keyword` finds in `text` (as a body), or None when it does not match."""
    found = TopicMatcher([T("t", [keyword])]).match("", text)
    return found[0].terms if found else None


# --- normalisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Kosovës", "kosoves"),  # Albanian ë
        ("Prishtinë Çarshia", "prishtine carshia"),  # ç
        ("Vučić Đoković Džeko", "vucic djokovic dzeko"),  # Serbian Latin, đ has no decomposition
        ("Косову", "kosovu"),  # Serbian Cyrillic
        ("Вучић Ђоковић Џеко", "vucic djokovic dzeko"),  # both scripts meet
        ("Љубљана Њујорк", "ljubljana njujork"),
        ("Ѓорѓи Ќосе Ѕвезда", "gjorgji kjose dzvezda"),  # Macedonian, marks kept as letters
        ("Вьоса", "vjosa"),  # Bulgarian/Russian soft sign before a vowel
        ("ΝΑΤΟ", "nato"),  # Greek capitals
        ("Κοσόβου", "kosovou"),  # Greek accents, ου
        ("EULEX Еулекс", "euleks euleks"),  # x -> ks, as Serbian spells it
        ("İstanbul Brüksel'de", "istanbul bruksel'de"),  # Turkish dotted capital I
        ("NATO’s KFOR‑i", "nato's kfor-i"),  # typographic apostrophe and non-breaking hyphen
        ("Ko\u00adso\u200bvo", "kosovo"),  # soft hyphen, zero-width space
        ("Kosove\u0308s", "kosoves"),  # decomposed ë
        ("ǅamija ﬁnale", "dzamija finale"),  # NFKC digraph and ligature
        ("MAẞE Straße", "masse strasse"),  # casefold
        ("Kosovo–Serbia, 2008.", "kosovo–serbia, 2008."),  # other punctuation is kept
    ],
)
def test_normalise(text: str, folded: str) -> None:
    assert normalise(text) == folded


# --- inflected and derived forms ---------------------------------------------------------------

FORMS = [
    # Kosovo: Albanian, South Slavic in both scripts, Macedonian, Bulgarian, Greek, ro, tr, en
    ("Kosovo", "Kosova ka paraqitur kërkesën.", "Kosova"),
    ("Kosovo", "Qeveria e Kosovës miratoi buxhetin.", "Kosovës"),
    ("Kosovo", "Ai e sheh Kosovën si partnere.", "Kosovën"),
    ("Kosovo", "Delegacioni mbërriti në Kosovë.", "Kosovë"),
    ("Kosovo", "Na Kosovu je uhapšen.", "Kosovu"),
    ("Kosovo", "Pregovori sa Kosovom su nastavljeni.", "Kosovom"),
    ("Kosovo", "Косово није члан УН.", "Косово"),
    ("Kosovo", "На Косову је обележен Видовдан.", "Косову"),
    ("Kosovo", "Nezavisnost Kosova.", "Kosova"),
    ("Kosovo", "Kosovska policija zatvorila je prelaz.", "Kosovska"),
    ("Kosovo", "Delegacija kosovskog parlamenta.", "kosovskog"),
    ("Kosovo", "Косовски премијер.", "Косовски"),
    ("Kosovo", "Косовските власти ја затворија границата.", "Косовските"),
    ("Kosovo", "Вицепремиерот го посети косовскиот премин.", "косовскиот"),
    ("Kosovo", "Studentët kosovarë protestuan.", "kosovarë"),
    ("Kosovo", "Kosovarët në diasporë.", "Kosovarët"),
    ("Kosovo", "Kosovarja e re fitoi.", "Kosovarja"),
    ("Kosovo", "Kosovari su u Nemačkoj.", "Kosovari"),
    ("Kosovo", "Косоварите кои живеат во Македонија.", "Косоварите"),
    ("Kosovo", "Kosovar officials rejected it.", "Kosovar"),
    ("Kosovo", "Thousands of Kosovars returned.", "Kosovars"),
    ("Kosovo", "Kosovan authorities shut the border.", "Kosovan"),
    ("Kosovo", "Kosovo's parliament voted.", "Kosovo's"),
    ("Kosovo", "Kosovo’s parliament voted.", "Kosovo’s"),
    ("Kosovo", "Kosovljani sa severa.", "Kosovljani"),
    ("Kosovo", "Το ΝΑΤΟ στο Κόσοβο.", "Κόσοβο"),
    ("Kosovo", "Η ανεξαρτησία του Κοσόβου.", "Κοσόβου"),
    ("Kosovo", "Autoritățile Kosovoului.", "Kosovoului"),
    ("Kosovo", "Kosova'da seçimler.", "Kosova'da"),
    ("Kosovo", "SHBA MBËSHTET KOSOVËN", "KOSOVËN"),
    ("Kosovo", "The Kosovo–Serbia dialogue.", "Kosovo"),
    ("Kosovo", "Kosovo-Serbia talks.", "Kosovo"),
    # NATO
    ("NATO", "Sekretari i NATO-s.", "NATO-s"),
    ("NATO", "NATO-ja mbetet garantuesja.", "NATO-ja"),
    ("NATO", "Diskutuan për marrëdhëniet me NATO-n.", "NATO-n"),
    ("NATO", "Rruga drejt NATO-së.", "NATO-së"),
    ("NATO", "Србија не тежи чланству у НАТО.", "НАТО"),
    ("NATO", "Разговор са секретаром НАТО-а.", "НАТО-а"),
    ("NATO", "Το ΝΑΤΟ ενισχύει.", "ΝΑΤΟ"),
    ("NATO", "Članstvo u NATO-u.", "NATO-u"),
    ("NATO", "Saradnja sa NATO-om.", "NATO-om"),
    ("NATO", "Zrakoplovi NATO-ovih saveznica.", "NATO-ovih"),
    ("NATO", "The Nato secretary general.", "Nato"),
    ("NATO", "NATO’s eastern flank.", "NATO’s"),
    ("NATO", "NATO'nun Kosova'daki varlığı.", "NATO'nun"),
    ("NATO", "Pale su natovske bombe.", "natovske"),
    ("NATO", "НАТО-мисијата се враќа.", "НАТО"),  # a compound: the acronym alone
    # KFOR
    ("KFOR", "KFOR-i deklaroi.", "KFOR-i"),
    ("KFOR", "Trupat e KFOR-it.", "KFOR-it"),
    ("KFOR", "I kërkuan KFOR-in.", "KFOR-in"),
    ("KFOR", "Vojnici Kfora.", "Kfora"),
    ("KFOR", "Pismo je upućeno Kforu.", "Kforu"),
    ("KFOR", "Војници Кфора патролирају.", "Кфора"),
    ("KFOR", "Протестна нота Кфору.", "Кфору"),
    ("KFOR", "КФОР је саопштио.", "КФОР"),
    ("KFOR", "Komandant KFOR-a.", "KFOR-a"),
    ("KFOR", "Kfor je pojačao ophodnje.", "Kfor"),
    # keywords other than the three, handled by the same rules
    ("Serbia", "Serbian officials said.", "Serbian"),
    ("Serbia", "Kufiri me Serbinë.", "Serbinë"),
    ("Serbia", "Ambasadori i Serbisë.", "Serbisë"),
    ("Serbia", "Granița Serbiei.", "Serbiei"),
    ("Srbija", "Predsednik Srbije.", "Srbije"),
    ("Srbija", "У Србији данас.", "Србији"),
    ("Srbija", "Sa Srbijom.", "Srbijom"),
    ("Rubio", "Sastanak sa Rubiom.", "Rubiom"),
    ("Rubio", "Izjava Rubija.", "Rubija"),
    ("Rubio", "Deklarata e Rubios.", "Rubios"),
    ("Rubio", "Марко Рубио.", "Рубио"),
    ("EULEX", "Misioni i EULEX-it.", "EULEX-it"),
    ("EULEX", "Misija Euleksa.", "Euleksa"),
    ("EULEX", "Еулекс је затворио канцеларију.", "Еулекс"),
    ("Brussels", "Talks in Brussels ended.", "Brussels"),
    ("Brisel", "Dijalog u Briselu.", "Briselu"),
    ("Brisel", "Бриселски споразум.", "Бриселски"),
    ("Bruksel", "Takimi i Brukselit.", "Brukselit"),
    ("Bruksel", "Bakan Brüksel'de görüştü.", "Brüksel'de"),
    ("Lajčák", "Sastanak sa Lajčakom.", "Lajčakom"),
    ("Lajčák", "Deklaratat e Lajçakut.", "Lajçakut"),
    ("Lajčák", "EU envoy Miroslav Lajcak.", "Lajcak"),
    ("Kurti", "Ai i kërkoi Kurtit.", "Kurtit"),
    ("Kurti", "Оптужила је Куртија.", "Куртија"),
    ("Kurti", "Kurti's allies.", "Kurti's"),
    ("Beograd", "Vlada u Beogradu.", "Beogradu"),
    ("Beograd", "Thirrje Beogradit.", "Beogradit"),
]


@pytest.mark.parametrize(("keyword", "text", "term"), FORMS)
def test_inflected_forms_match(keyword: str, text: str, term: str) -> None:
    assert terms(keyword, text) == [term]


# --- traps: shared letters, other words ---------------------------------------------------------

TRAPS = [
    ("NATO", "Konobar je natočio vino."),  # poured
    ("NATO", "Конобар је наточио вино."),
    ("NATO", "Kamioni natovareni šljunkom."),  # loaded
    ("NATO", "Natalija Nikolić osvojila je medalju."),
    ("NATO", "Наталија је освојила прво место."),
    ("NATO", "The donator asked to remain anonymous."),
    ("NATO", "Natopljeni zidovi stare škole."),  # soaked
    ("NATO", "Il bambino è nato a Tirana."),  # Italian 'born': lower case is no acronym
    ("NATO", "Natën e djeshme ra borë."),  # Albanian 'at night'
    ("NATO", "Ndeshja natore u ndërpre."),  # 'nocturnal'
    ("NATO", "Il regista Natoli ha vinto."),
    ("KFOR", "Kforce Inc. reported revenue."),
    ("KFOR", "EUFOR je produžio mandat."),
    ("KFOR", "visit kfor.example.org"),  # lower case
    ("Kosovo", "Srečko Kosovel, the Slovene poet."),
    ("Kosovo", "Ulica po pesniku Srećku Kosovelu."),
    ("Kosovo", "Glumac Nikola Kosovac dobio je nagradu."),  # surname: -ac is left out on purpose
    ("Kosovo", "Фудбалер Косовац постигао је гол."),
    ("Kosovo", "Kosovi pevaju u šumi."),  # blackbirds (kos, pl. kosovi)
    ("Kosovo", "Началась косовица."),  # Russian 'mowing'
    ("Kosovo", "Srbi sa KiM."),  # abbreviations are not forms
    ("Osmani", "Sultan Osman i osmanski period."),  # stem of a name ending in -i is another name
    ("Kurti", "Kurt Volker foli."),
    ("Kurti", "Igrač Kurtić postigao je gol."),
    ("Rubio", "Una mujer rubia."),  # Serbian inserts j: Rubija, never Rubia
    ("Serbia", "Srpski jezik."),  # another stem: add "srp*" if wanted
    ("UN", "Una storia, a unit of the army, unul dintre ei."),  # short acronym: no fused endings
    ("UN", "Un homme est venu."),
    ("EU", "Eu cred că decizia este corectă."),  # Romanian 'I'
    ("SAD", "A sad day for Sad Hill."),
    ("Trump", "He played the trumpet."),  # no Albanian plural -et on names
    ("Kina", "Idemo u kino."),  # no vocative -o
    ("izbor*", "Predizborna kampanja i reizbor rektora."),  # a prefix starts at the word start
    ("election*", "The electoral commission."),
]


@pytest.mark.parametrize(("keyword", "text"), TRAPS)
def test_traps_do_not_match(keyword: str, text: str) -> None:
    assert terms(keyword, text) is None


@pytest.mark.parametrize(
    ("keyword", "text", "matches"),
    [
        # words that are also a form: jato kosova (a flock of blackbirds) is spelt like Kosova
        ("Kosovo", "Jato kosova sletelo je na polje.", True),
        # a capitalised acronym at a sentence start is taken for the acronym (Italian 'born')
        ("NATO", "Nato a Roma nel 1950, lo scrittore vive a Pristina.", True),
        # Turkish derivations are not in the lists (only apostrophe endings: Kosova'da)
        ("Kosovo", "Kosovalı gençler Almanya'da iş arıyor.", False),
        # a surname ending in -i keeps Albanian and j-endings only, not adjective declension
        ("Herceg-Novi", "Festival u Herceg Novom.", False),
    ],
)
def test_known_limits(keyword: str, text: str, matches: bool) -> None:
    """Pinned so that a change in these is seen; the corpus counts the first two kinds."""
    assert (terms(keyword, text) is not None) is matches


# --- phrases and prefixes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("Presidentja Vjosa Osmani tha.", "Vjosa Osmani"),
        ("Kritikat e Vjosa Osmanit.", "Vjosa Osmanit"),
        ("Spor Kurtija i Vjose Osmani.", "Vjose Osmani"),
        ("Sastanak sa Vjosom Osmani.", "Vjosom Osmani"),
        ("Вјоса Османи оптужила је.", "Вјоса Османи"),
        ("Вьоса Османи посети София.", "Вьоса Османи"),
        ("VJOSA OSMANI NË BRUKSEL", "VJOSA OSMANI"),
        ("Vjosa  Osmani-Sadriu.", "Vjosa Osmani"),
        ("Vjosa\nOsmani", "Vjosa Osmani"),  # the term shows one space
        ("Bujar Osmani, Vjosa Berisha", None),
        ("Lumi Vjosa. Osmani tha.", None),
        ("Vjosa, Osmani", None),
        ("Osmani Vjosa", None),
    ],
)
def test_phrase_inflects_each_word(text: str, term: str | None) -> None:
    assert terms("Vjosa Osmani", text) == (None if term is None else [term])


@pytest.mark.parametrize(
    ("keyword", "text", "term"),
    [
        ("izbor*", "Izbori su raspisani.", "Izbori"),
        ("izbor*", "Изборите ќе се одржат.", "Изборите"),  # Cyrillic meets the Latin prefix
        ("izbor*", "Izborni zakon.", "Izborni"),
        ("izbor*", "Izborili su plasman.", "Izborili"),  # literal: 'fought their way' too
        ("zgjedhj*", "Zgjedhjet lokale.", "Zgjedhjet"),
        ("εκλογ*", "Οι εκλογές θα διεξαχθούν.", "εκλογές"),
        ("seçim*", "Seçimler yapılacak.", "Seçimler"),
        ("seçim*", "Secim sonuclari.", "Secim"),  # accents folded in the keyword too
        ("Vjosa Osman*", "Vjosa Osmanaj foli.", "Vjosa Osmanaj"),  # prefix as a phrase word
    ],
)
def test_prefix_keywords(keyword: str, text: str, term: str) -> None:
    assert terms(keyword, text) == [term]


@pytest.mark.parametrize(
    ("keyword", "text", "term"),
    [
        ("Herceg-Novi", "Festival u Herceg Novi.", "Herceg Novi"),  # hyphen or space alike
        ("Herceg-Novi", "Festival u Herceg-Novi.", "Herceg-Novi"),
        ("O'Brien", "Senator O’Brien said.", "O’Brien"),
        (
            "Zajednica srpskih opština",
            "Formiranje Zajednice srpskih opština.",
            "Zajednice srpskih opština",
        ),
    ],
)
def test_keywords_joined_by_hyphens_and_apostrophes(
    keyword: str, text: str, term: str | None
) -> None:
    assert terms(keyword, text) == (None if term is None else [term])


@pytest.mark.parametrize("keyword", ["*", "iz*", "  ", "!!!", "Kosovo*!"])
def test_bad_keywords_name_the_topic(keyword: str) -> None:
    with pytest.raises(ValueError, match="topic 'broken'"):
        TopicMatcher([T("broken", [keyword])])


# --- require / exclude / several topics ---------------------------------------------------------

OSMANI_KURTI = T("osmani-kurti", ["Vjosa Osmani"], require=["Kurti"])
ELECTIONS = T("elections", ["izbor*", "zgjedhj*"], exclude=["Evrovizij*", "Eurovizion*"])


@pytest.mark.parametrize(
    ("topic", "text", "matches"),
    [
        (OSMANI_KURTI, "Vjosa Osmani i kërkoi Albin Kurtit takim.", True),
        (OSMANI_KURTI, "Vjosa Osmani optužila je Aljbina Kurtija.", True),
        (OSMANI_KURTI, "Vjosa Osmani priti nxënësit.", False),  # require missing
        (OSMANI_KURTI, "Kurt Volker foli për Vjosa Osmanin.", False),  # Kurt is not Kurti
        (OSMANI_KURTI, "Kurti i Osmani su se sreli.", False),  # require alone is not a keyword
        (ELECTIONS, "Izbori su raspisani za decembar.", True),
        (ELECTIONS, "Izbor pesme za Evroviziju privukao je rekordan broj glasova.", False),
        (ELECTIONS, "Zgjedhja e këngës për Eurovizion bëhet në dhjetor.", False),
        (ELECTIONS, "Изборот на песна за Евровизија.", False),  # exclude folds scripts too
    ],
)
def test_require_and_exclude(topic: T, text: str, matches: bool) -> None:
    assert bool(TopicMatcher([topic]).match("", text)) is matches


def test_require_and_exclude_look_at_title_and_body() -> None:
    matcher = TopicMatcher([OSMANI_KURTI, ELECTIONS])
    assert [m.name for m in matcher.match("Kurti responds", "Vjosa Osmani said.")] == [
        "osmani-kurti"
    ]
    assert matcher.match("Eurovizion 2026", "Zgjedhja e këngës.") == []


def test_topics_come_in_configuration_order() -> None:
    topics = [T("b", ["NATO"]), T("a", ["Kosovo"]), T("c", ["Rubio"]), T("d", ["Kosovo"])]
    found = TopicMatcher(topics).match("", "Kosovo and NATO.")
    assert [m.name for m in found] == ["b", "a", "d"]


def test_works_with_the_configuration_model() -> None:
    from balkanwatch.core.config import Topic

    topic = Topic(name="kosovo-security", keywords=["Kosovo", "NATO", "KFOR"])
    assert TopicMatcher([topic]).match("", "Vojnici Kfora.")[0].terms == ["Kfora"]


# --- what a match reports -----------------------------------------------------------------------


def test_terms_are_unique_in_original_spelling_title_first() -> None:
    matcher = TopicMatcher([T("k", ["Kosovo", "NATO", "KFOR"])])
    (m,) = matcher.match(
        "Kosova dhe NATO-ja",
        "Na Kosovu, Кфора i NATO-ja. Kosova again, Kosove\u0308s, KOSOVA.",
    )
    assert m == TopicMatch(
        name="k",
        terms=["Kosova", "NATO-ja", "Kosovu", "Кфора", "Kosove\u0308s", "KOSOVA"],
        where=["title", "body"],
        snippet="Na Kosovu, Кфора i NATO-ja.",
        keyword_of={
            "Kosova": "Kosovo",
            "NATO-ja": "NATO",
            "Kosovu": "Kosovo",
            "Кфора": "KFOR",
            "Kosove\u0308s": "Kosovo",
            "KOSOVA": "Kosovo",
        },
    )


@pytest.mark.parametrize(
    ("title", "body", "where"),
    [
        ("KFOR patrols", "The bridge was closed.", ["title"]),
        ("The bridge was closed", "KFOR patrols the area.", ["body"]),
        ("KFOR patrols", "KFOR-i deklaroi.", ["title", "body"]),
    ],
)
def test_where(title: str, body: str, where: list[str]) -> None:
    assert TopicMatcher([T("k", ["KFOR"])]).match(title, body)[0].where == where


def test_a_word_inside_a_longer_match_is_not_a_second_term() -> None:
    (m,) = TopicMatcher([T("o", ["Osmani", "Vjosa Osmani"])]).match("", "Vjosa Osmani tha.")
    assert m.terms == ["Vjosa Osmani"]


@pytest.mark.parametrize(
    ("title", "body", "snippet"),
    [
        # the sentence of the first body match; "2008. godine" does not end a sentence
        (
            "Vesti",
            "Prvi pasus. Kosovo je 2008. godine proglasilo nezavisnost. Treća rečenica.",
            "Kosovo je 2008. godine proglasilo nezavisnost.",
        ),
        ("Vesti", "Naslov\nNa Kosovu je mirno\nDrugi red", "Na Kosovu je mirno"),
        ("Kosovo votes", "Nothing else here.", "Kosovo votes"),  # title only: the title
        ("Kosovo votes", "Polls closed. Kosovo's turnout rose!", "Kosovo's turnout rose!"),
    ],
)
def test_snippet_is_the_sentence_around_the_first_match(
    title: str, body: str, snippet: str
) -> None:
    assert TopicMatcher([T("k", ["Kosovo"])]).match(title, body)[0].snippet == snippet


def test_long_sentences_are_trimmed_around_the_match() -> None:
    words = " ".join(f"word{i}" for i in range(200))
    body = f"{words} KFOR-i {words}."
    snippet = TopicMatcher([T("k", ["KFOR"])]).match("", body)[0].snippet
    assert "KFOR-i" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) <= SNIPPET_CHARS + 2


# --- the labelled corpus ------------------------------------------------------------------------


def load_corpus() -> tuple[list[Topic], list[dict]]:
    raw = yaml.safe_load(CORPUS_TOPICS.read_text("utf-8"))["topics"]
    topics = [Topic.model_validate(t) for t in raw]  # as topics.yaml is read: aliases, NEAR
    lines = CORPUS.read_text("utf-8").splitlines()
    return topics, [json.loads(line) for line in lines if line.strip()]


def test_corpus_is_well_formed() -> None:
    topics, records = load_corpus()
    names = {t.name for t in topics}
    assert len(records) >= 300
    assert len({r["id"] for r in records}) == len(records)
    assert all(set(r["topics"]) <= names for r in records)
    langs = {r["lang"] for r in records}
    assert {"sq", "sr-Cyrl", "sr-Latn", "mk", "bs", "hr", "cnr", "en"} <= langs
    assert sum(not r["topics"] for r in records) >= 80  # plenty of traps


def test_corpus_precision_and_recall() -> None:
    """Over (sentence, topic) pairs; each sentence is a one-line article (title, empty body)."""
    topics, records = load_corpus()
    matcher = TopicMatcher(topics)
    tp = fp = fn = 0
    wrong = []
    for r in records:
        got = {m.name for m in matcher.match(r["text"], "")}
        expected = set(r["topics"])
        tp, fp, fn = tp + len(got & expected), fp + len(got - expected), fn + len(expected - got)
        if got != expected:
            wrong.append(f"{r['id']}: expected {sorted(expected)}, got {sorted(got)}")
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.98 and recall >= 0.98, "\n".join(wrong)


@pytest.mark.parametrize(
    ("text", "words", "expected"),
    [
        ("Косово и Србија. Премијер у Београду.", ["kosovo"], "[Косово] и Србија."),
        ("Ministar Đurić rekao je.", ["djuric"], "Ministar [Đurić] rekao je."),
        ("O statusu Kosova u Briselu.", ["kosov*"], "O statusu [Kosova] u Briselu."),
        ("Premijer u Beogradu.", ["beograd"], None),  # whole words only, as the index
        ("", ["kosovo"], None),
    ],
)
def test_snippet_for_words(text: str, words: list[str], expected: str | None) -> None:
    from balkanwatch.analysis.topics import snippet_for_words

    assert snippet_for_words(text, words) == expected


# --- aliases ------------------------------------------------------------------------------------

KOSOVO = {"Kosovo": ["Kosovo i Metohija", "KiM", "Kosmet", "Dardania"]}
NATO = {"NATO": ["Aleanca Veriatlantike", "Sjevernoatlantski savez", "Северноатлантска алијанса"]}
KFOR = {"KFOR": ["Kosovo Force", "Forca e Kosovës"]}


def alias_match(text: str, aliases: dict[str, list[str]]) -> dict[str, str] | None:
    """term -> keyword for what the aliased keyword finds in `text`, or None."""
    topic = T("t", list(aliases), aliases=aliases)
    found = TopicMatcher([topic]).match("", text)
    return found[0].keyword_of if found else None


@pytest.mark.parametrize(
    ("aliases", "text", "term"),
    [
        (KOSOVO, "Vlada je usvojila program za Srbe na Kosmetu.", "Kosmetu"),
        (KOSOVO, "Срби на Космету обележили су Видовдан.", "Космету"),
        (KOSOVO, "Kosmetski Srbi traže garancije.", "Kosmetski"),
        (KOSOVO, "Kancelarija za KiM saopštila je.", "KiM"),
        (KOSOVO, "Канцеларија за КиМ осудила је напад.", "КиМ"),
        (KOSOVO, "Direktor Kancelarije za KiM-a.", "KiM-a"),
        (KOSOVO, "Stanje na Kosovu i Metohiji.", "Kosovu i Metohiji"),
        (KOSOVO, "Rugova propozoi emrin Dardania.", "Dardania"),
        (KOSOVO, "Historia e Dardanisë.", "Dardanisë"),
        (NATO, "Vende anëtare të Aleancës Veriatlantike.", "Aleancës Veriatlantike"),
        (NATO, "Hrvatska je članica Sjevernoatlantskog saveza.", "Sjevernoatlantskog saveza"),
        (NATO, "Saradnja sa Sjevernoatlantskim savezom.", "Sjevernoatlantskim savezom"),
        (NATO, "Членка на Северноатлантската алијанса.", "Северноатлантската алијанса"),
        (KFOR, "The Kosovo Force reinforced its patrols.", "Kosovo Force"),
        (KFOR, "Me Forcën e Kosovës të udhëhequr nga NATO.", "Forcën e Kosovës"),
    ],
)
def test_aliases_match_in_their_forms_and_report_their_keyword(
    aliases: dict[str, list[str]], text: str, term: str
) -> None:
    assert alias_match(text, aliases) == {term: next(iter(aliases))}


@pytest.mark.parametrize(
    "text",
    [
        "Glumica Kim Bejsinger doputovala je.",  # the name
        "Ким Чен Ун посетио је фабрику.",
        "S kim si razgovarao?",  # 'with whom'
        "SRBI SA KIM",  # a short alias matches only as written, even in a headline
        "Kimia e ushqimit.",  # Albanian 'chemistry'
        "Dardan Berisha shënoi golin.",  # a given name, not a form of Dardania
        "Sjevernoatlantska struja utječe na klimu.",  # the adjective alone
        "Aleanca Kuq e Zi protestoi.",
    ],
)
def test_alias_traps(text: str) -> None:
    assert alias_match(text, {**KOSOVO, **NATO, **KFOR}) is None


def test_the_kosovo_security_force_is_not_kfor() -> None:
    found = alias_match("Forca e Sigurisë së Kosovës u stërvit.", {**KOSOVO, **KFOR})
    assert found == {"Kosovës": "Kosovo"}


def test_an_alias_belongs_to_its_topic_only() -> None:
    with_alias = T("a", ["Kosovo"], aliases={"Kosovo": ["Kosmet"]})
    without = T("b", ["Kosovo"])
    found = TopicMatcher([with_alias, without]).match("", "Srbi na Kosmetu.")
    assert [m.name for m in found] == ["a"]


@pytest.mark.parametrize(("aliases", "matches"), [(KFOR, True), ({}, False)])
def test_aliases_apply_to_the_keyword_in_require_too(aliases: dict, matches: bool) -> None:
    topic = T("t", ["KFOR", "Kosovo"], require=["KFOR NEAR/3 Jarinje"], aliases=aliases)
    found = TopicMatcher([topic]).match("", "The Kosovo Force was near Jarinje.")
    assert bool(found) is matches


@pytest.mark.parametrize("alias", ["!!!", " ", "K*"])
def test_bad_alias_names_topic_alias_and_keyword(alias: str) -> None:
    with pytest.raises(ValueError, match=r"topic 'broken': (alias|prefix).*"):
        TopicMatcher([T("broken", ["Kosovo"], aliases={"Kosovo": [alias]})])


# --- NEAR ---------------------------------------------------------------------------------------

KFOR_JARINJE = T("kj", ["KFOR"], require=["KFOR NEAR/5 Jarinje"])


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("Pripadnici KFOR-a raspoređeni su kod prelaza Jarinje.", True),  # 4 words between
        ("Jarinje su jutros obišli vojnici KFOR-a.", True),  # either order
        ("KFOR troops were deployed near the Jarinje crossing.", True),  # exactly 5
        ("KFOR troops were deployed right near the Jarinje crossing.", False),  # 6
        ("Кфор је појачао патроле на Јарињу.", True),
        ("KFOR-i rriti patrullimet në Jarinjë.", True),
        ("KFOR je 2008. godine bio na Jarinju.", True),  # "2008. godine" is one sentence
        ("Patrolu je vodio KFOR. Jarinje je ponovo otvoren.", False),  # across a sentence
        ("На путу је био КФОР. Јариње је затворено.", False),
        ("Në veri patrullon KFOR-i! Jarinja mbetet e mbyllur.", False),
        ("Patrolu je vodio KFOR\nJarinje je ponovo otvoren", False),  # a line is a sentence
        ("KFOR je saopštio da je prelaz Jarinje zatvoren, a KFOR je na Jarinju.", True),
        ("Prelaz Jarinje je zatvoren.", False),  # require alone is not a keyword
    ],
)
def test_near_within_one_sentence(text: str, matches: bool) -> None:
    assert bool(TopicMatcher([KFOR_JARINJE]).match("", text)) is matches


def test_near_never_pairs_title_with_body() -> None:
    matcher = TopicMatcher([KFOR_JARINJE])
    assert matcher.match("KFOR", "Jarinje je zatvoren.") == []
    assert matcher.match("KFOR na Jarinju", "Nista.")[0].where == ["title"]


def test_near_in_exclude() -> None:
    topic = T("k", ["Kosovo"], exclude=["Kosovo NEAR/0 Polje"])
    matcher = TopicMatcher([topic])
    assert matcher.match("", "Opština Kosovo Polje.") == []
    assert matcher.match("", "Kosovo. Polje je zeleno.")


@pytest.mark.parametrize(
    ("require", "message"),
    [
        ("KFOR NEAR Jarinje", "A NEAR/5 B"),
        ("KFOR NEAR/ Jarinje", "A NEAR/5 B"),
        ("KFOR NEAR/x Jarinje", "A NEAR/5 B"),
        ("NEAR/5 Jarinje", "A NEAR/5 B"),
        ("KFOR NEAR/5", "A NEAR/5 B"),
        ("A NEAR/2 B NEAR/2 C", "A NEAR/5 B"),
        ("KFOR NEAR/500 Jarinje", "at most NEAR/50"),
        ("KFOR NEAR/5 iz*", "too short"),
    ],
)
def test_bad_near_names_the_topic(require: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"topic 'broken'.*{re.escape(message)}"):
        TopicMatcher([T("broken", ["KFOR"], require=[require])])


def test_near_is_not_a_keyword() -> None:
    with pytest.raises(ValueError, match="NEAR belongs in require or exclude"):
        TopicMatcher([T("broken", ["KFOR NEAR/5 Jarinje"])])


def test_lowercase_near_is_a_word() -> None:
    found = TopicMatcher([T("n", ["KFOR"], require=["near"])]).match("", "KFOR near Jarinje.")
    assert [m.name for m in found] == ["n"]
