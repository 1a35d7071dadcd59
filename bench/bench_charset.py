"""Measure balkanwatch/analysis/charset.py: the decode cost per page, UTF-8 and mislabelled.

    python bench/bench_charset.py            # about 10 seconds
    python bench/bench_charset.py -n 20      # quicker

Pages are the saved koha.net homepage (113 KB of real markup) with an article of the
region's sentences from tests/data/topics_corpus.jsonl in it, one page per language. Each is
decoded as it arrives: UTF-8 declared as UTF-8 (the hot path), and written in the language's
code page while the server says UTF-8 (the slow path). `bytes.decode` of the same body is the
floor. Figures are medians per page, in microseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from balkanwatch.analysis import charset  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "topics_corpus.jsonl"
MARKUP = ROOT / "tests" / "fixtures" / "homepages" / "koha.net.html"
# (corpus language, outlet language, the code page such a site used)
LANGUAGES = [
    ("sr-Latn", "sr", "cp1250"),
    ("sr-Cyrl", "sr", "cp1251"),
    ("mk", "mk", "cp1251"),
    ("bs", "bs", "cp1250"),
    ("hr", "hr", "iso8859-2"),
    ("sq", "sq", "cp1252"),
]


def pages() -> list[tuple[str, str, str, str]]:
    """(name, outlet language, code page, page text)."""
    rows = [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines()]
    markup = MARKUP.read_text("utf-8")
    out = []
    for corpus_lang, language, codepage in LANGUAGES:
        paras = "".join(f"<p>{r['text']}</p>\n" for r in rows if r["lang"] == corpus_lang)
        # the furniture's own Albanian letters are not in every code page: ASCII for all
        furniture = markup.encode("ascii", "ignore").decode("ascii")
        text = furniture.replace("<body", f"<body><article>{paras}</article><div", 1)
        out.append((corpus_lang, language, codepage, text))
    return out


def median_us(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=100, help="runs per page (median taken)")
    args = parser.parse_args()
    print(f"{'page':<22} {'KB':>5} {'decoded as':<10} {'decode_html µs':>14} {'floor µs':>9}")
    for name, language, codepage, text in pages():
        utf8 = text.encode("utf-8")
        legacy = text.encode(codepage, "replace")
        for label, body, floor_codec in [
            (f"{name} utf-8", utf8, "utf-8"),
            (f"{name} {codepage}!", legacy, codepage),
        ]:
            decoded = charset.decode_html(body, "utf-8", language)
            assert decoded.text == body.decode(floor_codec), label
            cost = median_us(
                lambda b=body, lang=language: charset.decode_html(b, "utf-8", lang), args.n
            )
            floor = median_us(lambda b=body, c=floor_codec: b.decode(c), args.n)
            print(
                f"{label:<22} {len(body) / 1024:>5.0f} {decoded.encoding:<10} {cost:>14.0f}"
                f" {floor:>9.0f}"
            )
    real = MARKUP.read_bytes()
    cost = median_us(lambda: charset.decode_html(real, "utf-8", "sq"), args.n)
    floor = median_us(lambda: real.decode("utf-8"), args.n)
    kb = len(real) / 1024
    print(f"{'koha.net as saved':<22} {kb:>5.0f} {'utf-8':<10} {cost:>14.0f} {floor:>9.0f}")
    print("'!' = the server declares UTF-8; the bytes are in the code page named")


if __name__ == "__main__":
    main()
