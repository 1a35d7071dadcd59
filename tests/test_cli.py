"""The `balkanwatch` commands end to end, as subprocesses: match and extract (status, search and
check-config have their own test files)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support import FIXTURES, ROOT, write_config

DATA = Path(__file__).parent / "data"


def run(args: list[str], stdin: str | bytes, cfg: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "balkanwatch.app.cli", *args],
        input=stdin if isinstance(stdin, bytes) else stdin.encode(),
        cwd=ROOT,
        env={**os.environ, "BALKANWATCH_CONFIG": str(cfg)},
        capture_output=True,
        timeout=120,
    )


def corpus_config(tmp_path: Path) -> Path:
    cfg = write_config(tmp_path / "cfg", [])
    shutil.copy(DATA / "topics_corpus_topics.yaml", cfg / "topics.yaml")
    return cfg


def test_match_jsonl_on_the_labelled_corpus(tmp_path: Path) -> None:
    """Issue 4's gate, through the command users run: precision and recall >= 0.98."""
    records = [
        json.loads(line)
        for line in (DATA / "topics_corpus.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    stdin = "".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in records)
    done = run(["match", "--jsonl"], stdin, corpus_config(tmp_path))
    assert done.returncode == 0, done.stderr.decode()
    got = {}
    for line in done.stdout.decode().splitlines():
        out = json.loads(line)
        assert set(out) == {"id", "topics"}
        got[out["id"]] = {t["name"] for t in out["topics"]}
        assert all(t["terms"] for t in out["topics"])
    tp = fp = fn = 0
    for r in records:
        expected, found = set(r["topics"]), got[r["id"]]
        tp += len(expected & found)
        fp += len(found - expected)
        fn += len(expected - found)
    assert tp / (tp + fp) >= 0.98 and tp / (tp + fn) >= 0.98, (tp, fp, fn)


def test_match_plain_text(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg", [])
    done = run(["match"], "Trupat e KFOR-it patrullojnë në veri të Kosovës.\n", cfg)
    assert done.returncode == 0, done.stderr.decode()
    topics = json.loads(done.stdout)["topics"]
    assert topics[0]["name"] == "kosovo-security"
    assert set(topics[0]["terms"]) == {"KFOR-it", "Kosovës"}
    nothing = run(["match"], "Konobar je natočio vino Nataliji.\n", cfg)
    assert json.loads(nothing.stdout)["topics"] == []


def test_match_jsonl_bad_line_is_a_clear_error(tmp_path: Path) -> None:
    done = run(
        ["match", "--jsonl"],
        '{"id": 1, "text": "ok"}\nnot json\n',
        write_config(tmp_path / "cfg", []),
    )
    assert done.returncode == 1
    assert b"stdin line 2" in done.stderr and b"Traceback" not in done.stderr


def test_extract_prints_seed_form(tmp_path: Path) -> None:
    page = (FIXTURES / "pages" / "002_6c890267cd0b48aa.html").read_bytes()
    done = run(
        ["extract", "--url", "https://www.rferl.org/a/31760934.html"],
        page,
        write_config(tmp_path / "cfg", []),
    )
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert lines[0] == "Kosovo President Asks Washington For Help In Joining NATO"
    assert "NATO officials did not immediately reply to a request for comment." in lines


def test_extract_jsonl(tmp_path: Path) -> None:
    page = (FIXTURES / "pages" / "002_6c890267cd0b48aa.html").read_text(encoding="utf-8")
    stdin = json.dumps({"url": "https://www.rferl.org/a/31760934.html", "html": page}) + "\n"
    stdin += json.dumps({"url": "https://x.example/", "html": "<html><body></body></html>"}) + "\n"
    done = run(["extract", "--jsonl"], stdin, write_config(tmp_path / "cfg", []))
    assert done.returncode == 0, done.stderr.decode()
    first, second = (json.loads(x) for x in done.stdout.decode().splitlines())
    assert set(first) == {"url", "title", "text", "published", "language"}
    assert first["title"].startswith("Kosovo President Asks") and first["language"] == "en"
    assert first["published"].startswith("2022-")
    assert second["text"] is None


def test_extract_nothing_found_exits_1(tmp_path: Path) -> None:
    done = run(["extract"], b"\x00\x01binary", write_config(tmp_path / "cfg", []))
    assert done.returncode == 1 and b"no article text" in done.stderr
