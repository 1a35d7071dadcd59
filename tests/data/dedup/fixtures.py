"""The dedup fixture pairs: load them, or regenerate groups/ from the stories in src/.

Each src/NN-slug.yaml holds one story (title, body paragraphs) plus the hand-written
material its copies need: another outlet's headline, a paragraph a republisher adds,
and the small edits an outlet makes after publishing. This script writes every
variant as a plain text file in seed form (title line, then the body), so the test
and the benchmark read only files and anyone can inspect or hand-correct a pair.

    python tests/data/dedup/fixtures.py     # regenerate groups/, from the repository root

``load_pairs()`` gives every labelled pair: each variant against its group's original
(duplicate), each hand-written pair in separate/ and every two group originals
(separate). tests/test_dedup.py and bench/bench_dedup.py --fixtures both use it.

The mechanical transformations (furniture lines, Latin->Cyrillic, diacritics dropped)
live here and not in pipelines/dedup.py on purpose: the fixtures must not be produced
by the code they test.
"""

from __future__ import annotations

import itertools
import shutil
import unicodedata
from pathlib import Path
from typing import NamedTuple

import yaml

HERE = Path(__file__).resolve().parent

# Page furniture that survives extraction on real outlets: social links, "read also"
# teasers pointing at other stories, reading-time badges, newsletter prompts.
FURNITURE: dict[str, list[tuple[list[str], list[str]]]] = {
    "en": [
        (
            ["Follow us on Facebook and Twitter", "3 min read"],
            [
                "Read also: Serbia and Kosovo trade accusations over border crossing",
                "Share this article",
            ],
        ),
        (
            ["Balkan Daily | Updated 14:32 CET"],
            [
                "Read more: EU warns Western Balkans over slow reforms",
                "Subscribe to our newsletter for the latest news from the region.",
            ],
        ),
        (["By staff reporters"], ["Related: Opposition calls for early elections"]),
        (
            ["Listen to this article"],
            ["See also: Thousands protest over rising prices", "Follow us on Telegram"],
        ),
    ],
    "sr": [
        (
            ["Pratite nas na Fejsbuku i Instagramu"],
            ["Pročitajte još: Vučić o Kosovu, Briselu i evropskom putu", "Podelite vest"],
        ),
        (["Izvor: Tanjug | Foto: Beta"], ["Pročitajte i: Nove mere za penzionere od januara"]),
    ],
    "hr": [
        (
            ["Pratite nas na Facebooku"],
            ["Pročitajte i: Cijene goriva ponovno rastu od utorka", "Podijeli članak"],
        ),
        (["Foto: Pixsell | 2 min čitanja"], ["Povezane vijesti: Vlada najavila nove mjere"]),
    ],
    "sq": [
        (
            ["Na ndiqni në Facebook dhe Instagram"],
            ["Lexo edhe: Kurti takon ambasadorët e Quint-it në Prishtinë", "Shpërndaje"],
        ),
        (["Burimi: KosovaPress"], ["Lexo më shumë: Çmimet e energjisë rriten nga janari"]),
    ],
}

_LAT2CYR_DIGRAPHS = {"lj": "љ", "nj": "њ", "dž": "џ", "Lj": "Љ", "LJ": "Љ", "Nj": "Њ", "NJ": "Њ"}
_LAT2CYR_DIGRAPHS |= {"Dž": "Џ", "DŽ": "Џ"}
_LAT2CYR = dict(
    zip(
        "abvgdđežzijklmnoprstćufhcčšABVGDĐEŽZIJKLMNOPRSTĆUFHCČŠ",
        "абвгдђежзијклмнопрстћуфхцчшАБВГДЂЕЖЗИЈКЛМНОПРСТЋУФХЦЧШ",
        strict=True,
    )
)


def to_cyrillic(text: str) -> str:
    """Serbian Latin -> Cyrillic, as a Cyrillic-script outlet would print the story."""
    out: list[str] = []
    i = 0
    while i < len(text):
        pair = text[i : i + 2]
        if pair in _LAT2CYR_DIGRAPHS:
            out.append(_LAT2CYR_DIGRAPHS[pair])
            i += 2
            continue
        out.append(_LAT2CYR.get(text[i], text[i]))
        i += 1
    return "".join(out)


def without_diacritics(text: str) -> str:
    """How sites and readers type without a regional keyboard: Vučić -> Vucic, ë -> e."""
    text = text.replace("đ", "dj").replace("Đ", "Dj")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def render(title: str, paragraphs: list[str]) -> str:
    return "\n\n".join([title, *paragraphs]) + "\n"


def with_furniture(paragraphs: list[str], lang: str, which: int) -> list[str]:
    sets = FURNITURE[lang]
    before, after = sets[which % len(sets)]
    return [*before, *paragraphs, *after]


def apply_edits(paragraphs: list[str], edits: list[list[str]]) -> list[str]:
    body = "\n\n".join(paragraphs)
    for old, new in edits:
        if body.count(old) != 1:
            raise ValueError(f"edit {old!r} must occur exactly once")
        body = body.replace(old, new)
    return body.split("\n\n")


def variants(story: dict) -> dict[str, str]:
    """All copies of one story that a desk should see as a single story."""
    lang, title, alt = story["lang"], story["title"].strip(), story["alt_title"].strip()
    paras = [p.strip() for p in story["body"].strip().split("\n\n")]
    added = story["added"].strip()
    edited = apply_edits(paras, story["edits"])
    mid = len(paras) // 2
    out = {
        "original": render(title, paras),
        "exact": render(title, paras),
        "headline": render(alt, paras),
        "para_added": render(title, [*paras[:-1], added, paras[-1]]),
        "para_added_top": render(title, [added, *paras]),
        "para_cut": render(title, paras[:mid] + paras[mid + 1 :]),
        "first_half": render(title, paras[: (len(paras) + 1) // 2]),  # a trimmed wire copy
        "boilerplate": render(title, with_furniture(paras, lang, 0)),
        "edited": render(title, edited),
        "republished": render(alt, with_furniture(edited[:-1], lang, 1)),
    }
    if story.get("wire"):
        out["wire_a"] = render(title, with_furniture(paras, lang, 0))
        out["wire_b"] = render(alt, with_furniture(paras, lang, 1))
        out["wire_c"] = render(title, with_furniture(paras[:-1], lang, 2))
        out["wire_d"] = render(alt, with_furniture([*edited[:-1], added, edited[-1]], lang, 3))
    if lang == "sr":
        out["cyrillic"] = to_cyrillic(out["original"])
        out["cyrillic_republished"] = to_cyrillic(out["republished"])
    if lang in ("sr", "hr", "sq"):
        out["ascii"] = without_diacritics(out["original"])
    return out


class Pair(NamedTuple):
    name: str  # test id: "<kind>/<where>"
    duplicate: bool  # True: one story; False: must stay separate
    a: str
    b: str


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def load_groups() -> dict[str, dict[str, str]]:
    """group name -> variant name -> text (seed form); every text in a group is one story."""
    return {
        group.name: {f.stem: _read(f) for f in sorted(group.glob("*.txt"))}
        for group in sorted((HERE / "groups").iterdir())
    }


def load_separate() -> list[tuple[str, str, str]]:
    """The hand-written hard negatives: (name, a, b)."""
    return [
        (d.name, _read(d / "a.txt"), _read(d / "b.txt"))
        for d in sorted((HERE / "separate").iterdir())
    ]


def load_pairs() -> list[Pair]:
    groups = load_groups()
    pairs = [
        Pair(f"dup/{group}/{name}", True, texts["original"], text)
        for group, texts in groups.items()
        for name, text in texts.items()
        if name != "original"
    ]
    pairs += [Pair(f"sep/{name}", False, a, b) for name, a, b in load_separate()]
    pairs += [
        Pair(f"sep-cross/{g1[:2]}-{g2[:2]}", False, groups[g1]["original"], groups[g2]["original"])
        for g1, g2 in itertools.combinations(groups, 2)
    ]
    return pairs


def main() -> None:
    groups = HERE / "groups"
    shutil.rmtree(groups, ignore_errors=True)
    for src in sorted((HERE / "src").glob("*.yaml")):
        story = yaml.safe_load(src.read_text(encoding="utf-8"))
        target = groups / src.stem
        target.mkdir(parents=True)
        for name, text in variants(story).items():
            (target / f"{name}.txt").write_text(text, encoding="utf-8")
    print(f"wrote {len(list(groups.glob('*/*.txt')))} files in {groups}")


if __name__ == "__main__":
    main()
