"""Recognise the same story published twice, under another URL or by another outlet.

Two keys, both computed from the article *body* (the seed-form text without its
title line, so a republished copy under a new headline still matches):

- ``content_hash``: exact duplicates after normalisation (case, Unicode form,
  diacritics, Cyrillic/Latin script, punctuation, page-furniture lines).
- ``signature``: a MinHash of word shingles, for near duplicates (a paragraph
  added or cut, other furniture, light edits). ``StoryIndex`` keeps the
  signatures of recent articles in memory, finds candidates by LSH banding and
  verifies each by its estimated Jaccard similarity.

This module is pure: no Scrapy, no database. The storage module persists the
hash, the signature (a BLOB) and the story id that ``StoryIndex.find`` returns,
and rebuilds the index at start-up with ``StoryIndex.from_rows``.

How the pipeline uses it (the storage module owns the columns)::

    digest = content_hash(text)                 # exact copy already stored? reuse its story
    sig = signature(text)                       # b"" for bodies under MIN_WORDS words
    story = stored_story(digest) or index.find(sig, now) or new_story_id()
    index.add(url, story, sig, now)             # re-adding a url replaces its signature
    # start-up: StoryIndex.from_rows(SELECT url, story_id, signature, fetched_at
    #                                WHERE fetched_at >= now - window); prune(now) daily

Parameters, measured on tests/data/dedup (``python bench/bench_dedup.py --fixtures``):
28 hand-written story groups (20 English, 3 Serbian with Cyrillic copies, 3 Albanian,
2 Croatian), each with its copies (exact, new headline, paragraph added at the end or
at the top, paragraph cut, only the first half, furniture lines, light edits, a rewrite
combining those, wire copies at other outlets, Cyrillic and diacritic-free copies):
290 duplicate pairs.
12 hand-written hard "must stay separate" pairs (formulaic identical headlines, same
topic, a follow-up reusing paragraphs, stories sharing the 2008-independence or
"About KFOR" paragraph, two short stories made mostly of two stock paragraphs) plus
the 378 pairs of different groups' originals: 390 separate pairs.

- Exact Jaccard with plain 3-word shingles: duplicates >= 0.632, but the pair of short
  stories sharing two stock paragraphs scores 0.634: no threshold separates them (with
  1- to 5-word shingles the gap is at best 0.03). Counting the lede (first 60 words) thrice
  fixes it: duplicates >= 0.592 (lowest: an intro paragraph added on top), separate
  <= 0.382 (that pair; every other separate pair <= 0.17, different stories <= 0.015).
- Shingle size 3: 2 to 5 give the same gap (0.21) on these pairs; with 2-word shingles
  unrelated stories are three times as similar (0.045; more LSH candidates), 4 and 5
  lose more to light edits (5th-percentile duplicate 0.695 at 3, 0.674 at 5).
- THRESHOLD 0.5: any value from 0.40 to 0.55 separates every fixture pair exactly; 0.5
  leans away from false merges (a missed alert is worse than a repeated one) while
  keeping the least similar duplicate 2 standard deviations of MinHash noise above it.
- NUM_PERM 128 (513-byte signature). Measured through StoryIndex: 0/290 duplicates
  missed, 0/390 separate pairs merged. All 342 fixture texts fed to one index in 50
  random orders: no story ever mixed two groups; 1.4% of groups split in two (when a
  trimmed copy and one with a new intro, Jaccard 0.41-0.48, arrive before any other
  copy: find returns one story and never merges two). Expected from MinHash noise
  (binomial model, LSH included): 0.01% of duplicate pairs missed, 0.001% of separate
  pairs merged; for the hardest pairs 1.5% (least similar duplicate) and 0.4% (the
  stock-paragraph pair).
  256 permutations would cut those to 0.15% and 0.01% for twice the bytes.
- LSH: 35 bands of 3 rows (``band_layout``): a pair at the threshold is a candidate
  with probability 0.99, at 0.6 with 0.9997.
- MIN_WORDS 25: about two sentences. Shorter bodies are not near-duplicate matched.

Scale (``python bench/bench_dedup.py``, 2 CPUs, synthetic 300-800-word articles):
signature + find + add 0.85 ms per article at 100,000 indexed (p99 1.7 ms; find alone
0.09 ms), rebuild from 10,000 rows 44 ms (100,000: 0.74 s), index memory 108 MiB
at 100,000 articles (about 1.1 KB each).

Known limit: two daily template reports that differ only in their figures (a central
bank's exchange-rate note: Jaccard 0.54) are near-identical text and are merged within
the window.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from balkanwatch.core.folding import fold

log = logging.getLogger(__name__)

SHINGLE_SIZE = 3
NUM_PERM = 128
THRESHOLD = 0.5
WINDOW_DAYS = 14.0
# Bodies shorter than this (a caption, a one-line "breaking" item, an empty page)
# say too little for a similarity score to mean "same story"; they get no
# signature and are matched only by content_hash, which then includes the title.
MIN_WORDS = 25
# The news is in the first paragraphs; stock paragraphs (Kosovo's 2008 independence,
# the EU-led dialogue, "About KFOR") sit lower down. Shingles of the first LEDE_WORDS
# words are added LEDE_WEIGHT more times (tagged copies), so two short stories that
# share long background paragraphs but open differently stay apart.
LEDE_WORDS = 60
LEDE_WEIGHT = 2
# First byte of every signature. Bump it whenever normalisation, shingling, the hash
# function or the permutations change: stored signatures of another version cannot be
# compared with new ones, and StoryIndex.from_rows skips them instead of mis-matching.
FORMAT_VERSION = 1
# Permutations are generated once for this many and sliced, so a signature made with
# more permutations than an index uses can be read by it (its prefix is a valid
# MinHash with fewer permutations).
_MAX_PERM = 512
_SEED = 20240605
_DAY = 86400.0
# LSH banding: a pair exactly at the threshold must become a candidate with at least
# this probability; candidates are then verified, so a lower value only loses recall.
_CANDIDATE_RECALL = 0.99
# StoryIndex housekeeping: recent additions are merged into the sorted band arrays in
# batches of at least this many (or 1/32 of the index), and removed slots are compacted
# away once there are more than this many (and more than a quarter of the live ones).
_MIN_MERGE = 256
_MIN_COMPACT = 1024

_APOSTROPHES = re.compile(r"['’ʼ`´]")
_NON_WORD = re.compile(r"[\W_]+")

# Lines of page furniture that extraction lets through and that differ between
# outlets carrying the same story, matched on the normalised line. Only short lines
# are candidates, so a real paragraph that happens to start with "Related" survives.
# In folded spelling (balkanwatch.core.folding): Albanian "lexo" is matched as "lekso".
_FURNITURE = re.compile(
    r"^(?:read (?:also|more)|see also|also read|related|recommended|share (?:this|on)"
    r"|follow us|subscribe|sign up|listen to this"
    r"|procitajte|pogledajte|povezane|vezane|pratite nas|podeli(?:te)?|podijeli(?:te)?|izvor|foto"
    r"|lekso|leksoni|na ndiqni|ndiqni|shperndaje|burimi)\b"
    r"|\b\d+ min(?:ute)?s? (?:read|citanja)\b"
)
_FURNITURE_MAX_WORDS = 20


def normalise_for_fingerprint(text: str) -> str:
    """Fold everything that differs between copies of one story but not its words.

    NFKC, casefold, Serbian/Macedonian Cyrillic to Latin (so a Cyrillic and a Latin
    copy match), diacritics folded (Vučić, Vucic; Kosovës, Kosoves), apostrophes
    dropped, any run of punctuation and whitespace collapsed to one space.
    """
    text = fold(text)
    text = _APOSTROPHES.sub("", text)
    return _NON_WORD.sub(" ", text).strip()


def _split_title(text: str) -> tuple[str, list[str]]:
    """Seed form: the first non-empty line is the title, the rest is the body."""
    lines = text.strip().splitlines()
    return (lines[0] if lines else ""), lines[1:]


def _is_furniture(line: str) -> bool:
    return len(line.split()) <= _FURNITURE_MAX_WORDS and _FURNITURE.search(line) is not None


def body_words(text: str) -> list[str]:
    """The normalised words of the body of a seed-form text, furniture lines removed."""
    _, lines = _split_title(text)
    words: list[str] = []
    for line in lines:
        norm = normalise_for_fingerprint(line)
        if norm and not _is_furniture(norm):
            words.extend(norm.split())
    return words


def fingerprints(text: str, *, num_perm: int = NUM_PERM) -> tuple[str, bytes]:
    """content_hash and signature of a seed-form text, normalising it once for both."""
    words = body_words(text)
    return content_hash(text, words), signature(text, num_perm=num_perm, words=words)


def content_hash(text: str, words: list[str] | None = None) -> str:
    """SHA-256 hex digest of the normalised body of a seed-form text: the exact-duplicate key.

    A body under MIN_WORDS words (an empty page, a photo caption) would make unrelated
    articles collide, so for those the title is hashed too. `words`: body_words(text), if the
    caller has them.
    """
    words = body_words(text) if words is None else words
    if len(words) < MIN_WORDS:
        words = normalise_for_fingerprint(text).split()
    return hashlib.sha256(" ".join(words).encode()).hexdigest()


def _ngrams(words: list[str], size: int) -> set[bytes]:
    if len(words) < size:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)}


def shingles(
    text: str,
    size: int = SHINGLE_SIZE,
    lede_words: int = LEDE_WORDS,
    lede_weight: int = LEDE_WEIGHT,
) -> set[bytes]:
    """The set the signature estimates Jaccard on: word ``size``-grams of the body, plus
    ``lede_weight`` tagged copies of those of its first ``lede_words`` words."""
    return _weighted_ngrams(body_words(text), size, lede_words, lede_weight)


def _weighted_ngrams(words: list[str], size: int, lede_words: int, lede_weight: int) -> set[bytes]:
    found = _ngrams(words, size)
    lede = _ngrams(words[:lede_words], size)
    for copy in range(1, lede_weight + 1):
        found |= {bytes([copy]) + gram for gram in lede}  # control byte: never in normalised text
    return found


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> np.ndarray:
    # Our own generator (not datasketch's default) so the signature format is pinned
    # here: the first k permutations are the same whatever num_perm is asked for.
    gen = np.random.RandomState(_SEED)
    a = gen.randint(0, 1 << 31, _MAX_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, _MAX_PERM, dtype=np.uint64).astype(np.uint32)
    return np.array([a[:num_perm], b[:num_perm]], dtype=np.uint32)


def signature(text: str, *, num_perm: int = NUM_PERM, words: list[str] | None = None) -> bytes:
    """MinHash of the body's word shingles as ``FORMAT_VERSION`` + num_perm uint32 (LE).

    128 permutations make 513 bytes. Returns ``b""`` for a body under MIN_WORDS words:
    such texts are never near-duplicate matched (StoryIndex ignores empty signatures).
    """
    if not 1 <= num_perm <= _MAX_PERM:
        raise ValueError(f"num_perm must be between 1 and {_MAX_PERM}")
    words = body_words(text) if words is None else words
    if len(words) < MIN_WORDS:
        return b""
    shingles = _weighted_ngrams(words, SHINGLE_SIZE, LEDE_WORDS, LEDE_WEIGHT)
    return bytes([FORMAT_VERSION]) + _minhash(shingles, num_perm).astype("<u4").tobytes()


# MurmurHash3's 32-bit finalizer, as datasketch pre-mixes each input hash in scheme "affine32".
_FMIX32 = [np.uint32(c) for c in (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)]


def _minhash(shingles: Iterable[bytes], num_perm: int) -> np.ndarray:
    """datasketch's MinHash of the shingles (scheme "affine32", hash function sha1_hash32, our
    permutations), bit for bit, vectorised: no call per shingle, and the crawl process need not
    import datasketch (which imports scipy). tests/test_dedup.py holds it to datasketch."""
    digests = b"".join([hashlib.sha1(s).digest()[:4] for s in shingles])
    hv = np.frombuffer(digests, dtype="<u4").astype(np.uint32).reshape(-1, 1)
    s1, m1, s2, m2, s3 = _FMIX32
    hv = hv ^ (hv >> s1)
    hv = hv * m1
    hv = hv ^ (hv >> s2)
    hv = hv * m2
    hv = hv ^ (hv >> s3)
    a, b = _permutations(num_perm)
    return (hv * a + b).min(axis=0)  # uint32 arithmetic wraps: the modulo 2^32 of affine32


def _hashvalues(sig: bytes, num_perm: int) -> bytes:
    """The first num_perm hash values of a signature, validated."""
    if sig[0] != FORMAT_VERSION:
        raise ValueError(f"signature format {sig[0]} is not {FORMAT_VERSION}: recompute it")
    if (len(sig) - 1) % 4 or (len(sig) - 1) // 4 < num_perm:
        raise ValueError(f"signature of {len(sig)} bytes has fewer than {num_perm} permutations")
    return sig[1 : 1 + 4 * num_perm]


def similarity(sig_a: bytes, sig_b: bytes) -> float:
    """Estimated Jaccard similarity of two signatures (0.0 if either is empty)."""
    if not sig_a or not sig_b:
        return 0.0
    n = min(len(sig_a), len(sig_b)) // 4
    return _agreement(_hashvalues(sig_a, n), _hashvalues(sig_b, n))


def _agreement(hv_a: bytes, hv_b: bytes) -> float:
    a, b = np.frombuffer(hv_a, dtype=np.uint32), np.frombuffer(hv_b, dtype=np.uint32)
    return float(np.count_nonzero(a == b)) / len(a)


def band_layout(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) for LSH: the most rows per band (fewest false candidates) that fit in
    num_perm, with the fewest bands (least memory) that make a pair exactly at the
    threshold a candidate with probability _CANDIDATE_RECALL."""
    for rows in range(num_perm, 0, -1):
        p = threshold**rows
        bands = 1 if p >= 1 else math.ceil(math.log(1 - _CANDIDATE_RECALL) / math.log1p(-p))
        if bands * rows <= num_perm:
            return bands, rows
    return num_perm, 1


class StoryIndex:
    """Signatures of the articles seen within the window, for near-duplicate lookup.

    Each article (key: its id or canonical URL) belongs to a story (story_id).
    ``find`` returns the story of the most similar recent article whose estimated
    Jaccard similarity is at least the threshold. Not thread-safe: one pipeline owns it.

    Storage is numpy arrays indexed by slot, not one Python object per band entry:
    at 100,000 articles that is about a third of the memory, no garbage-collector
    pauses, and a rebuild that is one sort. Band hashes live in one sorted array
    (binary search) plus a small dict of recent additions merged in from time to time;
    removed articles leave dead slots that are compacted away once they are many.
    """

    def __init__(
        self,
        threshold: float = THRESHOLD,
        num_perm: int = NUM_PERM,
        window_days: float = WINDOW_DAYS,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        self.threshold = threshold
        self.num_perm = num_perm
        self.window = window_days * _DAY
        self.bands, self.rows = band_layout(threshold, num_perm)
        self.skipped = 0  # rows from_rows could not use (other format, malformed)
        # Odd multipliers, one per band and row: a band hash is a wrapping dot product.
        gen = np.random.RandomState(_SEED + 1)
        shape = (self.bands, self.rows)
        self._mix = gen.randint(0, 1 << 62, shape, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        empty = np.empty((0, num_perm), dtype=np.uint32)
        self._load([], [], np.empty(0), empty)

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, key: object) -> bool:
        return key in self._slot_of

    def _band_hashes(self, hv: np.ndarray) -> np.ndarray:
        """(m, num_perm) hash values -> (m, bands) band hashes."""
        width = self.bands * self.rows
        blocks = hv[:, :width].reshape(-1, self.bands, self.rows).astype(np.uint64)
        return (blocks * self._mix).sum(axis=2, dtype=np.uint64)

    def _load(self, keys: list[str], stories: list[str], seen: np.ndarray, hv: np.ndarray) -> None:
        """Replace the contents with these articles (unique keys), banded in one sort."""
        self._keys: list[str | None] = list(keys)  # slot -> key, None once removed
        self._stories = list(stories)  # slot -> story id
        self._slot_of = {key: slot for slot, key in enumerate(keys)}
        self._hv = np.array(hv, dtype=np.uint32).reshape(-1, self.num_perm)
        self._seen = np.array(seen, dtype=np.float64)
        self._alive = np.ones(len(keys), dtype=bool)
        hashes = self._band_hashes(self._hv).ravel()
        order = np.argsort(hashes, kind="stable")
        self._sorted_hash = hashes[order]
        self._sorted_slot = (order // self.bands).astype(np.int32)
        self._merged = len(keys)  # slots below this are in the sorted arrays
        # band hash -> slot(s) added since the last merge; tuples of ints cost the GC nothing
        self._recent: dict[int, int | tuple[int, ...]] = {}
        self._dead = 0

    def _reserve(self, size: int) -> None:
        if size <= len(self._seen):
            return
        capacity = max(size, len(self._seen) * 3 // 2 + 64)
        used = len(self._keys)
        for name in ("_hv", "_seen", "_alive"):
            old = getattr(self, name)
            new = np.zeros((capacity, *old.shape[1:]), dtype=old.dtype)
            new[:used] = old[:used]
            setattr(self, name, new)

    def add(self, key: str, story_id: str, sig: bytes, seen_at: float) -> None:
        """Index an article; re-adding a key replaces its entry. Empty signatures are ignored."""
        self.remove(key)
        if not sig:
            return
        hv = np.frombuffer(_hashvalues(sig, self.num_perm), dtype="<u4")
        slot = len(self._keys)
        self._reserve(slot + 1)
        self._hv[slot], self._seen[slot], self._alive[slot] = hv, seen_at, True
        self._keys.append(key)
        self._stories.append(story_id)
        self._slot_of[key] = slot
        for h in self._band_hashes(hv[None, :])[0].tolist():
            held = self._recent.get(h)
            self._recent[h] = slot if held is None else (*_as_tuple(held), slot)
        if slot + 1 - self._merged >= max(_MIN_MERGE, slot // 32):
            self._merge()

    def _merge(self) -> None:
        """Move the recent additions into the sorted arrays (one pass, no full sort)."""
        start, end = self._merged, len(self._keys)
        hashes = self._band_hashes(self._hv[start:end]).ravel()
        order = np.argsort(hashes, kind="stable")
        slots = (order // self.bands + start).astype(np.int32)
        hashes = hashes[order]
        at = np.searchsorted(self._sorted_hash, hashes)
        self._sorted_hash = np.insert(self._sorted_hash, at, hashes)
        self._sorted_slot = np.insert(self._sorted_slot, at, slots)
        self._merged = end
        self._recent.clear()

    def remove(self, key: str) -> None:
        """Forget an article (its text changed, or it was deleted); unknown keys are ignored."""
        slot = self._slot_of.pop(key, None)
        if slot is None:
            return
        self._keys[slot] = None
        self._alive[slot] = False
        self._dead += 1
        self._maybe_compact()

    def _maybe_compact(self) -> None:
        if self._dead > max(_MIN_COMPACT, len(self._slot_of) // 4):
            live = np.flatnonzero(self._alive[: len(self._keys)])
            keys = [self._keys[i] for i in live.tolist()]
            stories = [self._stories[i] for i in live.tolist()]
            self._load(keys, stories, self._seen[live], self._hv[live])  # type: ignore[arg-type]

    def _candidates(self, hv: np.ndarray) -> np.ndarray:
        """Live slots that share at least one band with these hash values."""
        query = self._band_hashes(hv[None, :])[0]
        lo = np.searchsorted(self._sorted_hash, query, side="left").tolist()
        hi = np.searchsorted(self._sorted_hash, query, side="right").tolist()
        parts = [self._sorted_slot[a:b] for a, b in zip(lo, hi, strict=True) if b > a]
        for h in query.tolist():
            held = self._recent.get(h)
            if held is not None:
                parts.append(np.array(_as_tuple(held), dtype=np.int32))
        if not parts:
            return np.empty(0, dtype=np.int32)
        slots = np.unique(np.concatenate(parts))
        return slots[self._alive[slots]]

    def find(self, sig: bytes, now: float | None = None) -> str | None:
        """Story id of the best near-duplicate seen within the window before ``now``
        (default: the current time), or None. Ties go to the earliest article."""
        if not sig:
            return None
        hv = np.frombuffer(_hashvalues(sig, self.num_perm), dtype="<u4")
        cutoff = (time.time() if now is None else now) - self.window
        slots = self._candidates(hv)
        slots = slots[self._seen[slots] >= cutoff]
        if not len(slots):
            return None
        agree = np.count_nonzero(self._hv[slots] == hv, axis=1)
        best = np.lexsort((self._seen[slots], -agree))[0]
        if agree[best] < self.threshold * self.num_perm - 1e-9:
            return None
        return self._stories[int(slots[best])]

    def prune(self, now: float) -> int:
        """Drop the articles older than the window; returns how many were dropped."""
        used = len(self._keys)
        old = np.flatnonzero(self._alive[:used] & (self._seen[:used] < now - self.window))
        for slot in old.tolist():
            del self._slot_of[self._keys[slot]]  # type: ignore[arg-type]
            self._keys[slot] = None
        self._alive[old] = False
        self._dead += len(old)
        self._maybe_compact()
        return len(old)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, bytes, float]], **kw: float) -> StoryIndex:
        """Rebuild from stored (key, story_id, signature, seen_at) rows, in one sort.

        Select only rows within the window (or call prune afterwards). A later row for
        the same key replaces an earlier one, as add() would. Rows whose signature has
        another format version or is malformed are skipped and counted in ``skipped``.
        """
        index = cls(**kw)  # type: ignore[arg-type]
        latest: dict[str, tuple[str, bytes, float]] = {}
        for key, story_id, sig, seen_at in rows:
            latest.pop(key, None)
            if not sig:
                continue
            try:
                latest[key] = (story_id, _hashvalues(sig, index.num_perm), seen_at)
            except ValueError:
                index.skipped += 1
        values = list(latest.values())
        hv = np.frombuffer(b"".join(v[1] for v in values), dtype="<u4")
        index._load(list(latest), [v[0] for v in values], np.array([v[2] for v in values]), hv)
        if index.skipped:
            log.warning("dedup: skipped %d stored signatures of another format", index.skipped)
        return index


def _as_tuple(held: int | tuple[int, ...]) -> tuple[int, ...]:
    return held if isinstance(held, tuple) else (held,)
