"""Configuration: loading, ${VAR} expansion, and one test per kind of error (file + entry named)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from balkanwatch.core.config import ConfigError, Outlet, load_config, parse_interval
from balkanwatch.storage.engine import StorageError
from balkanwatch.storage.store import Store
from tests.support import ROOT, cli, write_config

OUTLET = {
    "name": "fixture",
    "title": "Fixture News",
    "homepage": "https://news.example.org/",
    "language": "sq",
    "country": "XK",
    "feeds": ["https://news.example.org/feed/"],
}
SECRET = "s3cr3t-Pa55"


def make(tmp_path: Path, **overrides: object) -> Path:
    return write_config(
        tmp_path / "cfg",
        overrides.pop("outlets", [OUTLET]),  # type: ignore[arg-type]
        **overrides,  # type: ignore[arg-type]
    )


def test_shipped_configuration_is_valid() -> None:
    cfg = load_config(ROOT / "config", env={})
    assert cfg.outlets and all(o.homepage.startswith("http") for o in cfg.outlets)
    assert [t.name for t in cfg.topics] == ["kosovo-security"]
    assert cfg.topics[0].keywords == ["Kosovo", "NATO", "KFOR"]
    assert {"KiM", "Kosmet"} <= set(cfg.topics[0].aliases["Kosovo"])
    assert "Aleanca Veriatlantike" in cfg.topics[0].aliases["NATO"]
    assert cfg.subscribers == []  # nothing that needs secrets
    assert cfg.settings.timezone == "Europe/Belgrade"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("15m", 900), ("90s", 90), ("2h", 7200), ("1d", 86400), (30, 30), ("0.5m", 30)],
)
def test_interval_units(value: object, seconds: float) -> None:
    assert parse_interval(value) == seconds  # type: ignore[arg-type]


def test_environment_overrides(tmp_path: Path) -> None:
    cfg_dir = make(tmp_path, settings={"interval": "10m"})
    cfg = load_config(env={"BALKANWATCH_CONFIG": str(cfg_dir), "BALKANWATCH_DB": "/tmp/x.db"})
    assert cfg.directory == cfg_dir
    assert str(cfg.database) == "/tmp/x.db"
    assert cfg.interval_of(cfg.outlets[0]) == 600


URL = "postgresql://bw:s3cret@db.example.org:5432/balkanwatch"


@pytest.mark.parametrize("where", ["settings", "env"])
def test_a_postgresql_url_is_kept_as_written(tmp_path: Path, where: str) -> None:
    """A Path would make it postgresql:/bw:... and the store a SQLite file named like a URL."""
    cfg = write_config(
        tmp_path / "cfg", [], settings={"database": URL} if where == "settings" else {}
    )
    env = {"BALKANWATCH_DB": URL} if where == "env" else {}
    assert load_config(cfg, env=env).database == URL
    with pytest.raises(StorageError, match="not a postgresql:// URL"):
        Store(Path(URL))
    assert not list(tmp_path.glob("postgresql*")) and not Path("postgresql:").exists()


def test_variables_are_expanded(tmp_path: Path) -> None:
    subs = [{"name": "desk", "urls": ["mailtos://bw:${SMTP_PASS}@smtp.example.org?to=a@b.c"]}]
    cfg = load_config(make(tmp_path, subscribers=subs), env={"SMTP_PASS": SECRET})
    assert SECRET in cfg.subscribers[0].urls[0]


# (file, what to write, words the message must contain)
ERRORS = [
    (
        "outlets.yaml",
        {"outlets": [{**OUTLET, "colour": "red"}]},
        ["outlets.yaml", "outlets[0] (fixture)", "colour", "unknown key"],
    ),
    (
        "outlets.yaml",
        {"outlets": [{**OUTLET, "interval": "soon"}]},
        ["outlets.yaml", "(fixture)", "interval", "bad interval"],
    ),
    (
        "outlets.yaml",
        {"outlets": [{**OUTLET, "feeds": ["ftp://news.example.org/feed"]}]},
        ["outlets.yaml", "(fixture)", "feeds", "bad URL"],
    ),
    (
        "outlets.yaml",
        {"outlets": [OUTLET, {**OUTLET, "title": "Again"}]},
        ["outlets.yaml", "outlets[1] (fixture)", "duplicate name"],
    ),
    (
        "outlets.yaml",
        {"outlets": [{**OUTLET, "article_pattern": "(unclosed"}]},
        ["outlets.yaml", "(fixture)", "article_pattern"],
    ),
    (
        "outlets.yaml",
        {"outlets": [{k: v for k, v in OUTLET.items() if k != "homepage"}]},
        ["outlets.yaml", "(fixture)", "homepage", "Field required"],
    ),
    (
        "outlets.yaml",
        {"outlets": [{**OUTLET, "crawl_delay": -1}]},
        ["outlets.yaml", "(fixture)", "crawl_delay", "greater than or equal to 0"],
    ),
    (
        "outlets.yaml",
        {"outlets": [{**OUTLET, "concurrency": 500}]},
        ["outlets.yaml", "(fixture)", "concurrency", "less than or equal to 64"],
    ),
    (
        "settings.yaml",
        {"timezone": "Mars/Olympus"},
        ["settings.yaml", "timezone", "unknown timezone"],
    ),
    (
        "settings.yaml",
        {"interval": "-5m"},
        ["settings.yaml", "interval"],
    ),
    (
        "topics.yaml",
        {"topics": [{"name": "empty", "keywords": []}]},
        ["topics.yaml", "topics[0] (empty)", "keywords"],
    ),
    (
        "topics.yaml",
        {"topics": [{"name": "short", "keywords": ["iz*"]}]},
        ["topics.yaml", "topics[0] (short)", "iz*"],
    ),
    (
        "topics.yaml",
        {"topics": [{"name": "k", "keywords": [{"term": "Kosovo", "aliases": "KiM"}]}]},
        ["topics.yaml", "topics[0] (k)", "keywords[0] (Kosovo)", "'aliases' must be a list"],
    ),
    (
        "topics.yaml",
        {"topics": [{"name": "k", "keywords": ["NATO", {"aliases": ["KiM"]}]}]},
        ["topics.yaml", "topics[0] (k)", "keywords[1]", "'term' must be the keyword"],
    ),
    (
        "topics.yaml",
        {"topics": [{"name": "k", "keywords": [{"term": "Kosovo", "alias": ["KiM"]}]}]},
        ["topics.yaml", "topics[0] (k)", "keywords[0]", "unknown key(s) alias"],
    ),
    (
        "topics.yaml",
        {"topics": [{"name": "k", "keywords": [{"term": "Kosovo", "aliases": ["K!M!"]}]}]},
        ["topics.yaml", "topics[0] (k)", "alias 'K!M!' of 'Kosovo'"],
    ),
    (
        "topics.yaml",
        {"topics": [{"name": "k", "keywords": ["KFOR"], "require": ["KFOR NEAR Jarinje"]}]},
        ["topics.yaml", "topics[0] (k)", "'KFOR NEAR Jarinje'", "A NEAR/5 B"],
    ),
    (
        "topics.yaml",
        {"topics": [{"name": "k", "keywords": ["KFOR"], "aliases": {"NATO": ["OTAN"]}}]},
        ["topics.yaml", "topics[0] (k)", "aliases given for 'NATO', not a keyword"],
    ),
    (
        "subscribers.yaml",
        {"subscribers": [{"name": "desk", "urls": ["json://localhost"], "topics": ["sport"]}]},
        ["subscribers.yaml", "subscribers[0] (desk)", "unknown topic 'sport'"],
    ),
    (
        "subscribers.yaml",
        {"subscribers": [{"name": "desk", "urls": ["json://localhost"], "digest": "weekly-ish"}]},
        ["subscribers.yaml", "subscribers[0] (desk)", "digest"],
    ),
    (
        "subscribers.yaml",
        {"subscribers": [{"name": "desk", "urls": ["mailtos://u:${NOPE_PASS}@h?to=a@b.c"]}]},
        ["subscribers.yaml", "NOPE_PASS", "not set"],
    ),
    (
        "outlets.yaml",
        "outlets: [name: x\n",
        ["outlets.yaml", "not valid YAML"],
    ),
]


@pytest.mark.parametrize(("filename", "content", "expected"), ERRORS)
def test_errors_name_file_entry_and_problem(
    tmp_path: Path, filename: str, content: object, expected: list[str]
) -> None:
    cfg_dir = make(tmp_path)
    text = content if isinstance(content, str) else yaml.safe_dump(content)
    if filename == "settings.yaml":
        base = yaml.safe_load((cfg_dir / filename).read_text())
        text = yaml.safe_dump({**base, **content})  # type: ignore[dict-item]
    (cfg_dir / filename).write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(cfg_dir, env={})
    for word in expected:
        assert word in str(err.value)


def test_secret_never_in_error(tmp_path: Path) -> None:
    subs = [
        {
            "name": "desk",
            "urls": [f"mailtos://bw:{SECRET}@smtp.example.org?to=a@b.c"],
            "digest": "whenever",
        }
    ]
    with pytest.raises(ConfigError) as err:
        load_config(make(tmp_path, subscribers=subs), env={})
    assert SECRET not in str(err.value)


def test_missing_directory() -> None:
    with pytest.raises(ConfigError, match="configuration directory not found"):
        load_config("/nonexistent/bw-config", env={})


def test_check_config_masks_secrets(tmp_path: Path) -> None:
    subs = [
        {
            "name": "desk",
            "urls": [
                "mailtos://bw:${SMTP_PASS}@smtp.example.org?to=desk@example.org",
                "slack://TA1B2C3D4/B0123456789/${SLACK_TOKEN}/#balkans",
            ],
        }
    ]
    cfg_dir = make(tmp_path, subscribers=subs)
    import os

    env = {
        **os.environ,
        "BALKANWATCH_CONFIG": str(cfg_dir),
        "SMTP_PASS": SECRET,
        "SLACK_TOKEN": "xoxbSecretTokenValue123",
    }
    done = cli("check-config", env=env)
    assert done.returncode == 0, done.stderr
    assert "fixture" in done.stdout and "kosovo-security" in done.stdout and "desk" in done.stdout
    assert "smtp.example.org" in done.stdout
    assert SECRET not in done.stdout and "xoxbSecretTokenValue123" not in done.stdout


def test_check_config_exit_code_on_error(tmp_path: Path) -> None:
    import os

    cfg_dir = make(tmp_path, outlets=[{**OUTLET, "interval": "soon"}])
    done = cli("check-config", env={**os.environ, "BALKANWATCH_CONFIG": str(cfg_dir)})
    assert done.returncode == 1
    assert "outlets.yaml" in done.stderr and "fixture" in done.stderr
    assert "Traceback" not in done.stderr


def test_scrapy_crawl_stops_on_bad_config_with_one_clear_line(tmp_path: Path) -> None:
    from tests.support import crawl

    done = crawl(make(tmp_path, outlets=[{**OUTLET, "interval": "soon"}]))
    assert done.returncode == 1
    assert "balkanwatch: " in done.stderr and "outlets.yaml: outlets[0] (fixture)" in done.stderr
    assert "Traceback" not in done.stderr


def test_daemon_stops_on_bad_config(tmp_path: Path) -> None:
    import os

    cfg_dir = make(tmp_path, subscribers=[{"name": "d", "urls": ["mailtos://u:${NOPE}@h?to=a@b"]}])
    done = subprocess.run(
        [sys.executable, "scheduler.py", "--once"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "BALKANWATCH_CONFIG": str(cfg_dir)},
        timeout=60,
    )
    assert done.returncode == 1
    assert "subscribers.yaml" in done.stderr and "NOPE" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("homepage", "domains", "expected"),
    [
        ("https://www.koha.net/", ["koha.net"], ["www.koha.net", "koha.net"]),
        ("https://www.koha.net:443/", [], ["www.koha.net"]),
        # host and port are the origin: an extra domain without a port is on the homepage's
        ("http://127.0.0.5:8123/", ["127.0.0.6"], ["127.0.0.5:8123", "127.0.0.6:8123"]),
        ("http://127.0.0.5:8123/", ["127.0.0.5:9000"], ["127.0.0.5:8123", "127.0.0.5:9000"]),
        ("http://127.0.0.5:8123/", ["https://x.rs/"], ["127.0.0.5:8123", "x.rs:8123"]),
    ],
)
def test_own_domains_carry_the_port(homepage: str, domains: list[str], expected: list[str]) -> None:
    assert Outlet(name="o", homepage=homepage, domains=domains).own_domains() == expected
