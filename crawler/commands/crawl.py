"""`scrapy crawl outlets`, with the exit status and the argument errors an operator can act on.

Scrapy's own `crawl` exits 0 whatever the spider met, and a wrong `-a outlets=` ends in a
traceback from inside the reactor. This command (COMMANDS_MODULE in crawler/settings.py) checks
the outlet names and `since` before anything starts (one line and exit 2), and exits 1 when
every selected outlet failed or was cut short, so that cron and scripts notice.
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError

from balkanwatch.core.config import ConfigError
from balkanwatch.core.secrets import mask_secrets
from balkanwatch.core.times import parse_time
from crawler.context import context_of, process_config
from crawler.lifeline import die_with_supervisor
from crawler.runs import OK
from crawler.spiders.outlets import outlet_names

USAGE_ERROR = 2


class Command(ScrapyCrawl):
    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        """Checked here, before Scrapy sets up logging and starts anything."""
        die_with_supervisor()
        super().process_options(args, opts)
        try:
            process_config()
        except ConfigError as e:
            sys.stderr.write(f"balkanwatch: {mask_secrets(str(e))}\n")
            raise SystemExit(1) from None
        if len(args) == 1 and (problem := self._check_arguments(args[0], opts.spargs)):
            sys.stderr.write(f"balkanwatch: {problem}\n")
            raise SystemExit(USAGE_ERROR)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError
        assert self.crawler_process
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
            return
        try:
            runs = context_of(crawler).runs
        except KeyError:  # another spider, without the add-on's context
            return
        if runs and not any(run.status == OK for run in runs.values()):
            self.exitcode = 1

    @staticmethod
    def _check_arguments(spider: str, spargs: dict[str, str]) -> str | None:
        if spider != "outlets":
            return None
        names = outlet_names(spargs.get("outlets"))
        config = process_config()
        known = [o.name for o in config.outlets]
        unknown = [n for n in names or [] if n not in known]
        if unknown:
            return (
                f"unknown outlet(s) in -a outlets=: {', '.join(unknown)}"
                f" (valid: {', '.join(known) or 'none configured'})"
            )
        since = spargs.get("since")
        if since is not None and parse_time(since) is None:
            return f"-a since={since!r}: expected a date like 2026-01-01"
        return None
