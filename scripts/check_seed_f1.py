"""Print the token F1 of every golden fixture page against its expected seed text.

Run from the repository root: `.venv/bin/python scripts/check_seed_f1.py [--diff]`.
The cases, the expected-text rules and the F1 are the ones tests/test_extract.py
asserts, imported from there so the two can never disagree. `--diff` also lists
the tokens missing from, or extra in, each extraction. Exit 1 if any page is
below the threshold.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from balkanwatch.analysis.extract import extract_article  # noqa: E402
from tests.test_extract import F1_THRESHOLD, GOLDEN, token_f1, tokens  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diff", action="store_true", help="show missing and extra tokens")
    args = parser.parse_args()
    worst = 1.0
    for case in GOLDEN:
        extracted = extract_article(case.page())
        got = extracted.text if extracted else ""
        f1 = token_f1(got, case.expected_text())
        worst = min(worst, f1)
        print(f"{case.stem}  F1 {f1:.4f}  ({sum(tokens(got).values())} tokens)")
        if args.diff:
            expected = tokens(case.expected_text())
            print(f"    missing: {dict(expected - tokens(got))}")
            print(f"    extra:   {dict(tokens(got) - expected)}")
    print(f"worst {worst:.4f}, threshold {F1_THRESHOLD}")
    return 0 if worst >= F1_THRESHOLD else 1


if __name__ == "__main__":
    sys.exit(main())
