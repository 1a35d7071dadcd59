"""Extraction quality and cost on the dev pages: the product against bare trafilatura.

    python bench/bench_extraction.py            # all 129 pages, about a minute
    python bench/bench_extraction.py --worst 10 # also list the product's 10 worst bodies
    python bench/bench_extraction.py --before-ref c1612cf  # also the package at that commit
    git show REF:pipelines/extract.py > /tmp/old_extract.py
    python bench/bench_extraction.py --before /tmp/old_extract.py  # an older extract module

Prints, in one run over tests/data/extraction-dev: title accuracy (case and spacing
aside) and mean body precision/recall/F1 (4-gram shingles, title line dropped; see the
README there) for the product (balkanwatch.analysis.extract.extract_article, given each page's
outlet's other `<title>`s as a crawl would have stored them), trafilatura with its
defaults, and trafilatura with comments off; then milliseconds per page, wall clock
and CPU (the CPU figure is the one to compare: on shared cores the wall clock swings by
a third between runs). `--before-ref` runs the product of another commit (its whole
`balkanwatch` package, from `git archive`) in a child process over the same pages.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if "--package-root" in sys.argv:  # the child of --before-ref: an older balkanwatch first
    sys.path.insert(0, sys.argv[sys.argv.index("--package-root") + 1])

from balkanwatch.analysis.extract import extract_article  # noqa: E402
from tests.extraction_dev import (  # noqa: E402
    DevPage,
    bare_trafilatura,
    body_scores,
    load_pages,
    other_titles,
    raw_titles,
    same_title,
)

Result = tuple[str | None, str]  # title, body


def product(pages: list[DevPage]) -> Callable[[DevPage, bytes], Result]:
    titles = raw_titles(pages)

    def run(page: DevPage, html: bytes) -> Result:
        known = other_titles(pages, page, titles)
        try:
            extracted = extract_article(html, page.url, known_titles=known)
        except TypeError:  # a version from before outlet hints
            extracted = extract_article(html, page.url)
        return (extracted.title, extracted.body) if extracted else (None, "")

    return run


def older(path: Path) -> Callable[[DevPage, bytes], Result]:
    """extract_article of another version of pipelines/extract.py, loaded from a file."""
    spec = importlib.util.spec_from_file_location("extract_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["extract_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)

    def run(page: DevPage, html: bytes) -> Result:
        extracted = module.extract_article(html, page.url)
        return (extracted.title, extracted.body) if extracted else (None, "")

    return run


def before_ref(ref: str) -> str:
    """The product line of the package at `ref`, measured in a child process."""
    archive = subprocess.run(
        ["git", "archive", ref, "balkanwatch"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory() as root:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(root, filter="data")
        child = [sys.executable, __file__, "--package-root", root, "--label", f"before {ref}"]
        return subprocess.run(child, capture_output=True, text=True, check=True).stdout


def bare(**options: bool) -> Callable[[DevPage, bytes], Result]:
    return lambda page, html: bare_trafilatura(page, html, **options)


def measure(name: str, extractor: Callable[[DevPage, bytes], Result], pages: list[DevPage]):
    titles, scores, seconds, cpu = 0, [], 0.0, 0.0
    for page in pages:
        html = page.html()
        started, started_cpu = time.perf_counter(), time.process_time()
        title, body = extractor(page, html)
        seconds += time.perf_counter() - started
        cpu += time.process_time() - started_cpu
        titles += same_title(title, page.title)
        scores.append((page.id, *body_scores(body, page.expected_body)))
    p, r, f = (statistics.fmean(s[i] for s in scores) for i in (1, 2, 3))
    print(
        f"{name:<28} title {titles / len(pages):.3f}  body P {p:.3f} R {r:.3f} F1 {f:.3f}  "
        f"{1000 * seconds / len(pages):6.1f} ms/page, CPU {1000 * cpu / len(pages):5.1f}"
    )
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worst", type=int, default=0, help="list the N worst product bodies")
    parser.add_argument("--before", type=Path, help="an older pipelines/extract.py to compare")
    parser.add_argument("--before-ref", help="a commit whose balkanwatch package to compare")
    parser.add_argument("--package-root", help=argparse.SUPPRESS)  # the child of --before-ref
    parser.add_argument("--label", default="before", help=argparse.SUPPRESS)
    args = parser.parse_args()
    pages = load_pages()
    if args.package_root:
        measure(args.label, product(pages), pages)
        return
    print(
        f"{len(pages)} pages, {len({page.publisher for page in pages})} publishers, "
        f"{os.cpu_count()} cores"
    )
    if args.before:
        measure("before", older(args.before), pages)
    if args.before_ref:
        print(before_ref(args.before_ref), end="")
    ours = measure("product", product(pages), pages)
    measure("trafilatura defaults", bare(), pages)
    measure("trafilatura comments off", bare(include_comments=False), pages)
    for page_id, p, r, f in sorted(ours, key=lambda s: s[3])[: args.worst]:
        print(f"  {page_id:<40} P {p:.3f} R {r:.3f} F1 {f:.3f}")


if __name__ == "__main__":
    main()
