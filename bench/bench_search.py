"""Search on a large archive: index size on disk and query latency per kind of query.

    .venv/bin/python bench/bench_search.py --articles 20000          # a quick check
    .venv/bin/python bench/bench_search.py                           # 1,000,000 articles
    .venv/bin/python bench/bench_search.py --db /tmp/a.db --reuse    # query an archive again

The archive is generated: articles of realistic length (log-normal, median about 330 words)
from 40 outlets writing Albanian, Serbian in Latin and Cyrillic, Macedonian, Bosnian, Croatian
and English over two years. Each article mixes sentences of the labelled corpus
(tests/data/topics_corpus.jsonl: topic words in context, with the traps natočio, Natalija,
Kosovac) and of the dedup fixtures (tests/data/dedup, tests/fixtures/seeds) with filler drawn
from a Zipf distribution over each language's vocabulary: the real words of those texts at the
head, a long tail of pseudo-words made of the language's own syllables, so document frequencies
run from nearly every article down to a handful, as in a real archive. Its topic matches are
the labels of the corpus sentences it contains. Rows go in through Store.import_articles in
transactions of 20,000; the index is built afterwards (Store.rebuild_search), then merged.

Queries go through Store.search (the API behind the CLI and the web pages), 20 results, newest
first unless said: each kind is several different queries, each run `--runs` times after one
warm-up pass; p50/p95/max in ms over all runs. The figures are on the last lines.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from balkanwatch.analysis.query import parse_query  # noqa: E402
from balkanwatch.storage.search import SearchQuery  # noqa: E402
from balkanwatch.storage.store import Store  # noqa: E402

LANGS = ("sq", "sr-Latn", "sr-Cyrl", "mk", "bs", "hr", "en")
LANG_SHARE = (0.25, 0.2, 0.15, 0.12, 0.08, 0.1, 0.1)
START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
TAIL_WORDS = 40_000  # pseudo-words per language
CHUNK = 20_000
_WORD = re.compile(r"[^\W\d_]+")


# --- vocabulary ----------------------------------------------------------------------------------


def _language_of(text: str) -> str:
    if re.search("[ѓќѕ]", text):
        return "mk"
    if re.search("[а-яА-Яђћџљњ]", text):
        return "sr-Cyrl"
    if re.search("[ëç]", text):
        return "sq"
    if re.search("[čćšžđ]", text, re.IGNORECASE):
        return "hr" if re.search(r"\b(je|su|što|tko)\b", text) else "sr-Latn"
    return "en"


def load_sentences() -> tuple[dict[str, list[tuple[str, list[str]]]], dict[str, Counter[str]]]:
    """Per language: (sentence, its topics) and the word counts of all its texts."""
    sentences: dict[str, list[tuple[str, list[str]]]] = {lang: [] for lang in LANGS}
    words: dict[str, Counter[str]] = {lang: Counter() for lang in LANGS}
    for line in (ROOT / "tests/data/topics_corpus.jsonl").read_text("utf-8").splitlines():
        rec = json.loads(line)
        lang = {"cnr": "sr-Latn"}.get(rec["lang"], rec["lang"])
        if lang in sentences:
            sentences[lang].append((rec["text"], list(rec["topics"])))
            words[lang].update(_WORD.findall(rec["text"]))
    texts = [
        *(ROOT / "tests/data/dedup").rglob("*.txt"),
        *(ROOT / "tests/fixtures/seeds").glob("*.txt"),
    ]
    for path in texts:
        text = path.read_text("utf-8")
        lang = _language_of(text)
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            sentence = " ".join(sentence.split())
            if 30 <= len(sentence) <= 300:
                sentences[lang].append((sentence, []))
                words[lang].update(_WORD.findall(sentence))
    return sentences, words


def vocabulary(counts: Counter[str], rng: random.Random) -> tuple[list[str], list[float]]:
    """Real words, then pseudo-words of the language's syllables; Zipf weights. The function
    words (three letters or fewer) lead by frequency; the other real words follow in random order,
    or the corpus' own subjects (Kosovo, NATO) would be in nearly every article."""
    lowered: Counter[str] = Counter()
    spelling: dict[str, str] = {}
    for word, count in counts.most_common():
        lowered[word.lower()] += count
        spelling.setdefault(word.lower(), word)  # the commonest spelling: NATO, Beograd, i
    short = [spelling[w] for w, _ in lowered.most_common() if len(w) <= 3]
    long = sorted(spelling[w] for w in lowered if len(w) > 3)
    rng.shuffle(long)
    head = short + long
    syllables = sorted(
        {w.lower()[i : i + 3] for w in head if len(w) >= 4 for i in range(0, len(w) - 2, 2)}
    )
    tail: set[str] = set()
    while len(tail) < TAIL_WORDS and syllables:
        tail.add("".join(rng.choice(syllables) for _ in range(rng.choice((2, 2, 3, 3, 4)))))
    rest = sorted(tail - set(head))
    rng.shuffle(rest)
    vocab = head + rest
    cumulative, total = [], 0.0
    for rank in range(1, len(vocab) + 1):
        total += 1.0 / rank**1.05
        cumulative.append(total)
    return vocab, cumulative


# --- the archive ---------------------------------------------------------------------------------


class Generator:
    def __init__(self, n: int, seed: int = 16) -> None:
        self.n = n
        self.rng = random.Random(seed)
        self.sentences, counts = load_sentences()
        self.vocab = {lang: vocabulary(counts[lang], self.rng) for lang in LANGS}
        self.outlets = [
            (f"{lang.split('-')[0].lower()}-outlet-{i}", lang)
            for lang, share in zip(LANGS, LANG_SHARE, strict=True)
            for i in range(max(1, round(share * 40)))
        ]
        weights = [LANG_SHARE[LANGS.index(lang)] / sum(1 for _, x in self.outlets if x == lang)
                   for _, lang in self.outlets]  # fmt: skip
        self.outlet_weights = list(weights)

    def filler(self, lang: str, words: int) -> str:
        vocab, cumulative = self.vocab[lang]
        picked = self.rng.choices(vocab, cum_weights=cumulative, k=words)
        out, i = [], 0
        while i < len(picked):
            size = self.rng.randint(8, 24)
            chunk = picked[i : i + size]
            out.append(chunk[0][:1].upper() + chunk[0][1:] + " " + " ".join(chunk[1:]) + ".")
            i += size
        return " ".join(out)

    def article(self, i: int) -> tuple[dict, list[str]]:
        rng = self.rng
        outlet, lang = rng.choices(self.outlets, weights=self.outlet_weights)[0]
        words = max(60, min(2500, int(rng.lognormvariate(math.log(330), 0.6))))
        pool = self.sentences[lang] or self.sentences["en"]
        quoted = rng.sample(pool, k=min(len(pool), rng.choice((0, 0, 0, 0, 1, 1, 2))))
        topics = sorted({t for _, ts in quoted for t in ts})
        paragraphs = [self.filler(lang, words // 3) for _ in range(3)]
        for sentence, _ in quoted:
            p = rng.randrange(3)
            paragraphs[p] = paragraphs[p] + " " + sentence
        title = quoted[0][0][:90] if quoted and rng.random() < 0.5 else self.filler(lang, 9)[:-1]
        fetched = START + SPAN * (i / self.n) + timedelta(seconds=rng.randint(0, 600))
        published = None if rng.random() < 0.1 else fetched - timedelta(minutes=rng.randint(1, 360))
        story = i + 1 if rng.random() > 0.08 or i < 100 else max(1, i + 1 - rng.randint(1, 50))
        row = {
            "id": i + 1,
            "url": f"https://{outlet}.example/a/{i + 1}",
            "outlet": outlet,
            "title": title,
            "text": title + "\n" + "\n\n".join(paragraphs),
            "published": published.isoformat(timespec="seconds") if published else None,
            "fetched_at": fetched.isoformat(timespec="seconds"),
            "language": lang.split("-")[0],
            "story_id": story,
        }
        return row, topics


def build(path: Path, n: int) -> dict[str, float]:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    gen = Generator(n)
    store = Store(path)
    t0 = time.perf_counter()
    for start in range(0, n, CHUNK):
        rows, matches = [], []
        for i in range(start, min(n, start + CHUNK)):
            row, topics = gen.article(i)
            rows.append(row)
            matches += [
                {"article_id": row["id"], "topic": t, "terms": "[]", "location": '["body"]',
                 "matched_at": row["fetched_at"]}
                for t in topics
            ]  # fmt: skip
        with store.transaction():
            store.import_articles(rows, matches)
        print(f"  {start + len(rows):>9,} articles  {time.perf_counter() - t0:7.1f}s", flush=True)
    generated = time.perf_counter() - t0
    t1 = time.perf_counter()
    store.rebuild_search()
    indexed = time.perf_counter() - t1
    store.close()
    return {"generate_s": generated, "index_s": indexed}


# --- queries -------------------------------------------------------------------------------------


def query_set(store: Store, gen: Generator) -> dict[str, list[SearchQuery]]:
    """Each kind of query a reader asks, several of each."""
    head = {lang: gen.vocab[lang][0] for lang in LANGS}

    def q(text: str, **kw: object) -> SearchQuery:
        return SearchQuery(parse_query(text), **kw)  # type: ignore[arg-type]

    common = ["kosovo", "NATO", "Beograd", "Srbija", "Kurti", "qeveria", "vlada", "izbori"]
    common += [head[lang][r] for lang in ("sq", "sr-Latn", "mk", "en") for r in (60, 150)]
    rare = [head[lang][r] for lang in LANGS for r in (25_000, 35_000)]
    outlets = [o for o, _ in gen.outlets]
    end = START + SPAN
    return {
        "one word, common": [q(w) for w in common],
        "one word, rare": [q(w) for w in rare],
        "prefix (kosov*, izbor*)": [q("kosov*"), q("izbor*"), q("zgjedhj*")],
        "phrase": [
            q('"Vjosa Osmani"'),
            q('"Albin Kurti"'),
            q('"North Atlantic"'),
            q('"premijer Kosova"'),
        ],
        "exclusion": [q("kosovo -NATO"), q("Beograd -Srbija")],
        "two words": [q("kosovo Beograd"), q("NATO KFOR"), q("izbori Kurti")],
        "filter --outlet": [q("kosovo", outlets=(outlets[i],)) for i in (0, 9, 25, 39)],
        "filter --language": [q("kosovo", languages=(lang,)) for lang in ("sq", "sr", "mk", "en")],
        "filter --topic": [
            q("Beograd", topics=("elections",)),
            q("vlada", topics=("osmani-kurti",)),
        ],
        "filter --since 7d": [q(w, since=end - timedelta(days=7)) for w in common[:4]],
        "filter --until (a year ago)": [q(w, until=end - timedelta(days=365)) for w in common[:4]],
        "--sort relevance": [q(w, sort="relevance") for w in ("kosovo", "NATO", "izbori")],
        "no hits": [q("kosovo zzyzx"), q("qqqq")],
    }


def measure(store: Store, queries: dict[str, list[SearchQuery]], runs: int) -> list[str]:
    lines = []
    for kind, qs in queries.items():
        for query in qs:  # warm-up: the first run of a query reads its pages from disk
            store.search(query)
        times, found = [], []
        slowest: dict[str, float] = {}
        for _ in range(runs):
            for query in qs:
                t = time.perf_counter()
                found.append(len(store.search(query)))
                elapsed = (time.perf_counter() - t) * 1000
                times.append(elapsed)
                slowest[query.query.text] = max(elapsed, slowest.get(query.query.text, 0.0))
        times.sort()
        p95 = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
        worst = max(slowest, key=lambda k: slowest[k])
        lines.append(
            f"{kind:<30} p50 {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms  "
            f"max {times[-1]:7.1f} ms  ({len(qs)} queries, mean {statistics.mean(found):.0f} "
            f"hits; slowest {worst!r})"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, default=Path("/tmp/bench_search.db"))
    ap.add_argument("--reuse", action="store_true", help="query an archive built before")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    timings: dict[str, float] = {}
    if not args.reuse:
        print(f"Generating {args.articles:,} articles into {args.db}")
        timings = build(args.db, args.articles)
    store = Store(args.db)
    n = store.count_articles()
    gen = Generator(n)  # the same seed: the same vocabulary as the archive
    lines = measure(store, query_set(store, gen), args.runs)
    index_mb = store.search_index_bytes() / 1e6
    db_mb = os.path.getsize(args.db) / 1e6
    store.close()
    print()
    if timings:
        print(
            f"generated and stored in {timings['generate_s']:.0f} s; "
            f"index built and merged in {timings['index_s']:.0f} s"
        )
    print(f"archive: {n:,} articles, database {db_mb:,.0f} MB, search index {index_mb:,.0f} MB")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
