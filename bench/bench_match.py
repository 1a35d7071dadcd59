"""Topic matching: quality per language on the labelled corpus, and cost per article.

    .venv/bin/python bench/bench_match.py

Quality: precision and recall over (sentence, topic) pairs of tests/data/topics_corpus.jsonl
against tests/data/topics_corpus_topics.yaml, per language and overall; then the shipped
config/topics.yaml on the same sentences (the labels of its topics only), with and without the
keywords' aliases.
Cost: a 1,000-word multilingual article (built from the corpus sentences, so it is full of
matches, near-misses and all scripts) against 20 topics of 10 distinct keywords each (names,
acronyms, phrases, prefixes), timed over many runs after a warm-up; median reported. The matcher
remembers the words it has looked up, so the headline cost clears that memory before each run
(every word unseen) and the warm figure is shown beside it. The figures are on the last lines.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from balkanwatch.analysis.topics import TopicMatcher  # noqa: E402
from balkanwatch.core.config import Topic  # noqa: E402
from balkanwatch.core.folding import fold as normalise  # noqa: E402

DATA = ROOT / "tests" / "data"
ARTICLE_WORDS = 1000
RUNS = 300

# 200 distinct keywords a Balkan desk might watch: places in every spelling they are written in,
# people, institutions, acronyms, phrases and prefixes.
_KEYWORD_TEXT = """
Kosovo NATO KFOR EULEX UNMIK OSCE EUFOR CEFTA Frontex Europol
Prishtina Priština Prizren Peja Peć Gjakova Đakovica Mitrovica Ferizaj Uroševac
Gjilan Gnjilane Podujevo Vushtrri Zvečan Leposavić Jarinje Brnjak Merdare Dečani
Tirana Durrës Shkodër Vlorë Elbasan Korçë Sarandë Kukës Berat Fier
Skopje Tetovo Kumanovo Ohrid Bitola Struga Gostivar Štip Veles Kičevo
Beograd Belgrade Niš Kragujevac Preševo Bujanovac Medveđa Subotica Čačak Kraljevo
Sarajevo Mostar Tuzla Zenica Bihać Srebrenica Brčko Trebinje Bijeljina Doboj
Podgorica Nikšić Budva Kotor Ulcinj Rožaje Bar Cetinje Pljevlja Herceg-Novi
Zagreb Split Rijeka Osijek Zadar Vukovar Sofia Athens Bucharest Ankara
Vučić Kurti Thaçi Haradinaj Rama Berisha Mickoski Siljanovska Dodik Milatović
Spajić Plenković Milanović Lajčák Borrell Kallas Rutte Stoltenberg Rubio Trump
Biden Putin Erdoğan Escobar Meloni Scholz Macron Lavrov Hoxhaj Abazović Zubin_Potok
Vetëvendosje Srpska_lista Albin_Kurti Vjosa_Osmani Aleksandar_Vučić Edi_Rama Milorad_Dodik
Bujar_Osmani Hristijan_Mickoski Open_Balkan Berlin_Process Ohrid_Agreement Ibar_bridge
Specialist_Chambers Zajednica_srpskih_opština Asociacioni_i_komunave Marko_Rubio Mark_Rutte
energ* elektr* sanksion* sankcij* protest* migra* korupc* korrupsion* vizë* viz*
izbor* zgjedhj* election* εκλογ* alegeri* seçim* referend* ustav* kushtetu* parlament*
Brussels Brisel Bruksel Washington Vašington Moskva Moscow Beijing Peking Berlin
Serbia Srbija Albania Shqipëria Albanija Bosnia Bosna Makedonija Maqedonia Montenegro
Crna_Gora Mali_i_Zi Hrvatska Croatia Kroacia Bugarska Bulgaria Greqia Grčka Greece
Ukraine Ukrajina Ukraina Rusija Russia Rusia Kina China Turqia Turska Turkey
"""
KEYWORDS = _KEYWORD_TEXT.split()  # _ joins the words of a phrase


def load_corpus() -> tuple[list[Topic], list[dict]]:
    raw = yaml.safe_load((DATA / "topics_corpus_topics.yaml").read_text("utf-8"))["topics"]
    lines = (DATA / "topics_corpus.jsonl").read_text("utf-8").splitlines()
    return [Topic.model_validate(t) for t in raw], [
        json.loads(line) for line in lines if line.strip()
    ]


def quality(
    topics: list[Topic], records: list[dict], show: bool = True
) -> dict[str, tuple[int, int, int, int]]:
    """Per language: sentences, true positives, false positives, false negatives."""
    matcher = TopicMatcher(topics)
    names = {t.name for t in topics}
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in records:
        got = {m.name for m in matcher.match(r["text"], "")}
        expected = set(r["topics"]) & names
        for key in (r["lang"], "all"):
            s = stats[key]
            s[0] += 1
            s[1] += len(got & expected)
            s[2] += len(got - expected)
            s[3] += len(expected - got)
            if show and key == "all" and got != expected:
                print(f"  miss {r['id']}: expected {sorted(expected)}, got {sorted(got)}")
    return {k: (v[0], v[1], v[2], v[3]) for k, v in stats.items()}


def without_aliases(topics: list[Topic]) -> list[Topic]:
    return [t.model_copy(update={"aliases": {}}) for t in topics]


def shipped_topics() -> list[Topic]:
    raw = yaml.safe_load((ROOT / "config" / "topics.yaml").read_text("utf-8"))["topics"]
    return [Topic.model_validate(t) for t in raw]


def ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "  -  "


def article(records: list[dict]) -> tuple[str, str]:
    words: list[str] = []
    sentences = []
    while len(words) < ARTICLE_WORDS:
        for r in records:
            sentences.append(r["text"])
            words.extend(r["text"].split())
            if len(words) >= ARTICLE_WORDS:
                break
    return sentences[0], "\n".join(sentences[1:])


def bench_topics() -> list[Topic]:
    assert len(set(KEYWORDS)) == 200, len(set(KEYWORDS))
    kws = [k.replace("_", " ") for k in KEYWORDS]
    return [Topic(name=f"topic-{i:02d}", keywords=kws[i::20]) for i in range(20)]


def median_ms(fn, runs: int = RUNS) -> float:
    fn()  # warm-up: fills the folding table
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    topics, records = load_corpus()
    stats = quality(topics, records)
    row = "{:<8} {:>9} {:>4} {:>3} {:>3} {:>9} {:>7}"
    print(row.format("lang", "sentences", "tp", "fp", "fn", "precision", "recall"))
    for lang in sorted(stats, key=lambda k: (k == "all", -stats[k][0])):
        n, tp, fp, fn = stats[lang]
        print(row.format(lang, n, tp, fp, fn, ratio(tp, tp + fp), ratio(tp, tp + fn)))

    print()
    for label, chosen in (
        ("corpus topics", topics),
        ("shipped config/topics.yaml", shipped_topics()),
    ):
        for when, ts in (("before aliases", without_aliases(chosen)), ("after aliases", chosen)):
            n, tp, fp, fn = quality(ts, records, show=False)["all"]
            print(
                f"{label}, {when}: tp {tp} fp {fp} fn {fn},"
                f" precision {ratio(tp, tp + fp)}, recall {ratio(tp, tp + fn)}"
            )

    title, body = article(records)
    many = bench_topics()
    t0 = time.perf_counter()
    matcher = TopicMatcher(many)
    compile_ms = (time.perf_counter() - t0) * 1000
    found = matcher.match(title, body)
    warm = median_ms(lambda: matcher.match(title, body))

    def cold() -> None:  # every word unseen, as if each article were the matcher's first
        matcher._cache.clear()
        matcher.match(title, body)

    per_article = median_ms(cold)
    fold = median_ms(lambda: (normalise(title), normalise(body)))
    one = TopicMatcher(many[:1])

    def single_cold() -> None:
        one._cache.clear()
        one.match(title, body)

    single = median_ms(single_cold)

    # The shipped topic with its aliases, and a NEAR condition, on the same article.
    near = Topic(name="kfor-jarinje", keywords=["KFOR"], require=["KFOR NEAR/5 Jarinje"])
    aliased = TopicMatcher([*shipped_topics(), near])

    def aliased_cold() -> None:
        aliased._cache.clear()
        aliased.match(title, body)

    shipped = median_ms(aliased_cold)

    n, tp, fp, fn = stats["all"]
    words = len(title.split()) + len(body.split())
    print()
    print(f"os.cpu_count(): {os.cpu_count()}")
    print(f"compile 20 topics x 10 keywords: {compile_ms:.1f} ms (once, at start-up)")
    print(
        f"article: {words} words, {len(title) + len(body)} chars, {len(found)} topics matched;"
        f" folding alone {fold:.3f} ms"
    )
    print(f"one topic alone on the same article: {single:.3f} ms")
    print(f"shipped topics (with aliases) and a NEAR topic, same article: {shipped:.3f} ms")
    print(f"words seen before (the matcher remembers them): {warm:.3f} ms per article")
    print(f"corpus: {n} sentences, precision {ratio(tp, tp + fp)}, recall {ratio(tp, tp + fn)}")
    print(
        f"cost: {per_article:.3f} ms per article (20 topics x 10 keywords, no word seen before,"
        f" median of {RUNS}),"
        f" {per_article / 20:.3f} ms per topic"
    )


if __name__ == "__main__":
    main()
