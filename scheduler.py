"""balkanwatch daemon: `python scheduler.py` runs forever, `python scheduler.py --once` one cycle.

Crawls each enabled outlet on its own interval (each crawl a child `scrapy crawl outlets`),
delivers alerts and digests, reloads the configuration on SIGHUP and stops cleanly on
SIGINT/SIGTERM. `--once` exits 1 when no outlet was crawled successfully.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from balkanwatch.app.daemon import load_snapshot, main_async
from balkanwatch.core.config import DEFAULT_CONFIG_DIR, ConfigError
from balkanwatch.core.secrets import mask_secrets


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--once", action="store_true", help="one full cycle, then exit")
    p.add_argument(
        "-s",
        dest="scrapy_settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Scrapy setting for the child crawls (repeatable)",
    )
    args = p.parse_args(argv)
    source = Path(os.environ.get("BALKANWATCH_CONFIG") or DEFAULT_CONFIG_DIR)
    try:
        config = load_snapshot(source)  # what the daemon and its children run on until SIGHUP
    except ConfigError as e:
        print(f"balkanwatch: {mask_secrets(str(e))}", file=sys.stderr)
        return 1
    logging.basicConfig(
        level=config.settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scrapy_args = [x for s in args.scrapy_settings for x in ("-s", s)]
    return asyncio.run(main_async(config, args.once, scrapy_args, source))


if __name__ == "__main__":
    sys.exit(main())
