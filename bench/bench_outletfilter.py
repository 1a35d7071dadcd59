"""How well one outlet's URL filter sorts feed and sitemap items, on labelled real homepages.

For each labelled site of tests/fixtures/homepages (real and synthetic), a "listing" is built as
a feed that carries navigation is: N article URLs of the site mixed with every labelled
non-article URL of its own host. The filter learns from that listing (as the crawler does from
a feed) and then judges every labelled URL of the site's host. Printed per site: precision and
recall of no filter (what reached extraction before), of the filter learned from the listing,
and the time to learn. Run: .venv/bin/python bench/bench_outletfilter.py [N]
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from balkanwatch.analysis.outletfilter import OutletFilter, merge_examples

ROOT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "homepages"


def host(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


def score(admitted: set[str], articles: set[str]) -> tuple[float, float]:
    hit = len(admitted & articles)
    return (hit / len(admitted) if admitted else 1.0, hit / len(articles) if articles else 1.0)


def main(n: int) -> None:
    rng = random.Random(17)
    print(f"{'site':<26} {'items':>5} {'none P/R':>11} {'learned P/R':>12} {'learn ms':>8}")
    for labels_path in sorted([*ROOT.glob("*.labels.json"), *ROOT.glob("synthetic/*.labels.json")]):
        labels = json.loads(labels_path.read_text("utf-8"))
        home = host(labels["homepage"])
        articles = {u for u in labels["articles"] if host(u) == home}
        others = {u for u in labels["not_articles"] if host(u) == home}
        listing = rng.sample(sorted(articles), min(n, len(articles))) + sorted(others)
        rng.shuffle(listing)
        start = time.perf_counter()
        url_filter = OutletFilter.build(None, merge_examples(listing, []), listed=listing)
        learn_ms = (time.perf_counter() - start) * 1000
        every = articles | others
        none_p, none_r = score(set(listing), articles & set(listing))
        learned = {u for u in every if url_filter.admits(u)[0]}
        p, r = score(learned, articles)
        print(
            f"{labels_path.name.removesuffix('.labels.json'):<26} {len(listing):>5}"
            f" {none_p:>5.2f}/{none_r:<5.2f} {p:>6.2f}/{r:<5.2f} {learn_ms:>8.1f}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
