"""Measure pipelines/dedup.py: thresholds on the fixture pairs, and speed and memory at scale.

    python bench/bench_dedup.py --fixtures   # Jaccard distributions, rates per threshold
    python bench/bench_dedup.py              # 100,000 synthetic articles (about 2-3 minutes)
    python bench/bench_dedup.py -n 20000     # a quicker run

The figures are printed on the last lines. The rates in pipelines/dedup.py's docstring
come from the --fixtures run; rerun it after changing the fixtures or the parameters.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from balkanwatch.analysis import dedup  # noqa: E402
from tests.data.dedup.fixtures import Pair, load_groups, load_pairs, load_separate  # noqa: E402

# -- fixtures: how well the parameters separate duplicates from different stories ----------


def jaccard(a: set[bytes], b: set[bytes]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def exact_scores(pairs: list[Pair], **shingle_kw: int) -> tuple[list[float], list[float]]:
    """True Jaccard of each duplicate and each separate pair under one shingling."""
    cache: dict[str, set[bytes]] = {}

    def sh(text: str) -> set[bytes]:
        if text not in cache:
            cache[text] = dedup.shingles(text, **shingle_kw)
        return cache[text]

    dup = [jaccard(sh(p.a), sh(p.b)) for p in pairs if p.duplicate]
    sep = [jaccard(sh(p.a), sh(p.b)) for p in pairs if not p.duplicate]
    return dup, sep


def p_estimate_at_least(jac: float, threshold: float, num_perm: int) -> float:
    """P(MinHash estimate >= threshold) for a pair of true Jaccard ``jac``: the number of
    agreeing permutations is binomial(num_perm, jac)."""
    need = math.ceil(threshold * num_perm - 1e-9)
    return sum(
        math.comb(num_perm, k) * jac**k * (1 - jac) ** (num_perm - k)
        for k in range(need, num_perm + 1)
    )


def p_candidate(jac: float, bands: int, rows: int) -> float:
    return 1 - (1 - jac**rows) ** bands


def expected_rates(
    dup: list[float], sep: list[float], threshold: float, num_perm: int
) -> tuple[float, float]:
    """(missed-duplicate rate, false-merge rate) expected from MinHash noise and banding."""
    bands, rows = dedup.band_layout(threshold, num_perm)

    def p_match(j: float) -> float:
        return p_candidate(j, bands, rows) * p_estimate_at_least(j, threshold, num_perm)

    missed = sum(1 - p_match(j) for j in dup) / len(dup)
    merged = sum(p_match(j) for j in sep) / len(sep)
    return missed, merged


def worst_pairs(dup: list[float], sep: list[float], threshold: float, num_perm: int) -> str:
    """P(miss) of the least similar duplicate and P(merge) of the most similar separate pair."""
    bands, rows = dedup.band_layout(threshold, num_perm)
    lo, hi = min(dup), max(sep)
    miss = 1 - p_candidate(lo, bands, rows) * p_estimate_at_least(lo, threshold, num_perm)
    merge = p_candidate(hi, bands, rows) * p_estimate_at_least(hi, threshold, num_perm)
    return (
        f"num_perm {num_perm}: worst duplicate missed {miss:.2%}, worst separate merged {merge:.2%}"
    )


def shingling_table(pairs: list[Pair]) -> None:
    print("shingling            dup min   dup p5  dup med | sep max  sep 2nd | gap")
    for size, lede_weight in itertools.product((1, 2, 3, 4, 5), (0, dedup.LEDE_WEIGHT)):
        dup, sep = exact_scores(pairs, size=size, lede_weight=lede_weight)
        dup.sort()
        sep.sort()
        label = f"k={size} lede x{lede_weight + 1}"
        print(
            f"{label:18} {dup[0]:9.3f} {dup[len(dup) // 20]:8.3f} {statistics.median(dup):8.3f}"
            f" | {sep[-1]:7.3f} {sep[-2]:8.3f} | {dup[0] - sep[-1]:+.3f}"
        )


def threshold_table(dup: list[float], sep: list[float]) -> None:
    print("\nthreshold  exact: missed merged | expected missed/merged at num_perm 64, 128, 256")
    for step in range(7, 16):
        t = step / 20
        missed = sum(j < t for j in dup) / len(dup)
        merged = sum(j >= t for j in sep) / len(sep)
        cells = [expected_rates(dup, sep, t, n) for n in (64, 128, 256)]
        exp = "  ".join(f"{m:.4f}/{f:.4f}" for m, f in cells)
        print(f"{t:9.2f} {missed:13.3f} {merged:6.3f} | {exp}")


def index_rates(pairs: list[Pair]) -> tuple[int, int, int, int]:
    """Through the real StoryIndex: (missed, duplicates, merged, separate)."""
    missed = merged = 0
    for pair in pairs:
        index = dedup.StoryIndex()
        index.add("a", "story-a", dedup.signature(pair.a), 0.0)
        found = index.find(dedup.signature(pair.b), now=1.0) == "story-a"
        missed += pair.duplicate and not found
        merged += not pair.duplicate and found
    n_dup = sum(p.duplicate for p in pairs)
    return missed, n_dup, merged, len(pairs) - n_dup


def clustering(seed: int) -> tuple[int, int, int]:
    """Feed every fixture text to one index in a shuffled order, as a crawl would.
    Returns (groups split into several stories, stories mixing texts, texts)."""
    texts = [(g, t) for g, variants in load_groups().items() for t in variants.values()]
    texts += [
        (f"sep-{n}-{side}", t) for n, a, b in load_separate() for side, t in (("a", a), ("b", b))
    ]
    random.Random(seed).shuffle(texts)
    index, story_of, hashes = dedup.StoryIndex(), [], {}
    for i, (_, text) in enumerate(texts):
        sig, digest = dedup.signature(text), dedup.content_hash(text)
        story = hashes.get(digest) or index.find(sig, now=float(i)) or f"s{i}"
        hashes.setdefault(digest, story)
        index.add(str(i), story, sig, float(i))
        story_of.append(story)
    by_group: dict[str, set[str]] = {}
    by_story: dict[str, set[str]] = {}
    for (group, _), story in zip(texts, story_of, strict=True):
        by_group.setdefault(group, set()).add(story)
        by_story.setdefault(story, set()).add(group)
    split = sum(len(s) > 1 for s in by_group.values())
    mixed = sum(len(g) > 1 for g in by_story.values())
    return split, mixed, len(texts)


def run_fixtures() -> None:
    pairs = load_pairs()
    n_dup = sum(p.duplicate for p in pairs)
    print(f"{n_dup} duplicate pairs, {len(pairs) - n_dup} separate pairs\n")
    shingling_table(pairs)
    dup, sep = exact_scores(pairs)
    threshold_table(dup, sep)
    low = sorted(zip(dup, (p.name for p in pairs if p.duplicate), strict=True))[:5]
    high = sorted(zip(sep, (p.name for p in pairs if not p.duplicate), strict=True))[-5:]
    print("\nlowest duplicates:", ", ".join(f"{n} {j:.3f}" for j, n in low))
    print("highest separate: ", ", ".join(f"{n} {j:.3f}" for j, n in high))
    orders = [clustering(seed) for seed in range(50)]
    t, n = dedup.THRESHOLD, dedup.NUM_PERM
    missed, merged = expected_rates(dup, sep, t, n)
    m, nd, f, ns = index_rates(pairs)
    bands, rows = dedup.band_layout(t, n)
    print(
        f"\nchosen: k={dedup.SHINGLE_SIZE} lede {dedup.LEDE_WORDS} words x{dedup.LEDE_WEIGHT + 1}"
    )
    print(f"chosen: threshold {t} num_perm {n} ({bands} bands x {rows} rows)")
    print(f"exact Jaccard: duplicates min {min(dup):.3f}, separate max {max(sep):.3f}")
    print(f"StoryIndex on the pairs: missed duplicates {m}/{nd}, false merges {f}/{ns}")
    print(f"expected from MinHash noise: missed {missed:.2%}, false merges {merged:.3%}")
    for num_perm in (64, 128, 256):
        print("expected for the hardest pairs at " + worst_pairs(dup, sep, t, num_perm))
    n_groups = len(load_groups())
    split = sum(s for s, _, _ in orders) / len(orders)
    print(
        f"clustering all {orders[0][2]} texts in {len(orders)} random orders: groups split into"
        f" 2+ stories {split:.2f} of {n_groups} per order ({split / n_groups:.1%}),"
        f" stories mixing groups {max(x for _, x, _ in orders)} at most"
    )


# -- scale: synthetic articles ---------------------------------------------------------------


class Corpus:
    """Synthetic news-like articles: Zipf-distributed words from a made-up vocabulary,
    shared stock paragraphs and near-duplicate copies, so LSH sees realistic candidates."""

    def __init__(self, seed: int = 7, vocabulary: int = 30_000) -> None:
        self.rng = random.Random(seed)
        syllables = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"]
        words: set[str] = set()
        while len(words) < vocabulary:
            words.add("".join(self.rng.choices(syllables, k=self.rng.randint(1, 4))))
        self.words = sorted(words)
        self.weights = list(itertools.accumulate(1 / (r + 1) for r in range(vocabulary)))
        self.stock = [self.paragraph() for _ in range(20)]
        self.recent: list[str] = []

    def paragraph(self) -> str:
        n = self.rng.randint(25, 70)
        return " ".join(self.rng.choices(self.words, cum_weights=self.weights, k=n)) + "."

    def article(self) -> str:
        """5% are a copy of a recent article with one paragraph replaced."""
        if self.recent and self.rng.random() < 0.05:
            paras = self.rng.choice(self.recent).split("\n\n")
            paras[self.rng.randrange(1, len(paras))] = self.paragraph()
            return "\n\n".join(paras)
        paras, words = ["Title " + self.paragraph()[:60]], 0
        while words < self.rng.randint(300, 800):
            paras.append(self.paragraph())
            words += len(paras[-1].split())
        if self.rng.random() < 0.3:
            paras.append(self.rng.choice(self.stock))
        text = "\n\n".join(paras)
        self.recent = [*self.recent[-199:], text]
        return text


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


Row = tuple[str, str, bytes, float]


def fill(
    index: dedup.StoryIndex, texts: Iterable[str]
) -> tuple[list[float], list[float], int, list[Row]]:
    """signature + find + add for each text, as the pipeline does.
    Returns (seconds per article, seconds of find alone, hits, the rows to store)."""
    totals, finds, hits, rows = [], [], 0, []
    for i, text in enumerate(texts):
        start = time.perf_counter()
        sig = dedup.signature(text)
        t_find = time.perf_counter()
        story = index.find(sig, now=float(i))
        t_add = time.perf_counter()
        index.add(f"k{i}", story or f"s{i}", sig, float(i))
        end = time.perf_counter()
        totals.append(end - start)
        finds.append(t_add - t_find)
        hits += story is not None
        rows.append((f"k{i}", story or f"s{i}", sig, float(i)))
    return totals, finds, hits, rows


def run_scale(n: int) -> None:
    corpus = Corpus()
    gen_s, texts = timed(lambda: [corpus.article() for _ in range(n)])
    words = statistics.mean(len(t.split()) for t in texts[:1000])  # type: ignore[union-attr]
    print(f"generated {n} articles ({words:.0f} words on average) in {gen_s:.1f}s")
    index = dedup.StoryIndex(window_days=n)  # window never expires here: seen_at is 0..n
    totals, finds, hits, rows = fill(index, texts)  # type: ignore[arg-type]
    del texts, index
    last = totals[-1000:]
    rebuild_10k = min(timed(lambda: dedup.StoryIndex.from_rows(rows[:10_000]))[0] for _ in range(3))
    rebuild_all, _ = timed(lambda: dedup.StoryIndex.from_rows(rows))
    # The index's own memory: fresh key and story strings (as read from the database),
    # the signatures' bytes objects are the caller's and are freed after the rebuild.
    tracemalloc.start()
    fresh = [(f"k{i}", f"s{i}", sig, t) for i, (_, _, sig, t) in enumerate(rows)]
    rebuilt = dedup.StoryIndex.from_rows(fresh)
    del fresh
    index_mb = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    bands, rows_per_band = rebuilt.bands, rebuilt.rows
    print(f"near-duplicate hits: {hits} (about 5% of the articles are planted copies)")
    print(f"rebuild of all {len(rows)} rows: {rebuild_all:.2f}s")
    print(f"os.cpu_count(): {os.cpu_count()}")
    print(f"index: {len(rebuilt)} articles, {bands} bands x {rows_per_band} rows")
    print(
        f"signature+find+add per article, mean over all {n}: {statistics.mean(totals) * 1e3:.2f} ms"
    )
    print(
        f"signature+find+add at {n} indexed, last 1000: mean {statistics.mean(last) * 1e3:.2f} ms,"
        f" p99 {sorted(last)[int(len(last) * 0.99)] * 1e3:.2f} ms"
    )
    print(
        f"find alone at {n} indexed, last 1000: mean {statistics.mean(finds[-1000:]) * 1e3:.3f} ms"
    )
    print(f"rebuild from 10,000 rows: {rebuild_10k * 1e3:.0f} ms")
    print(f"index memory at {len(rebuilt)} articles (tracemalloc): {index_mb:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fixtures", action="store_true", help="measure rates on the fixtures")
    parser.add_argument("-n", type=int, default=100_000, help="synthetic articles to index")
    args = parser.parse_args()
    if args.fixtures:
        run_fixtures()
    else:
        run_scale(args.n)


if __name__ == "__main__":
    main()
