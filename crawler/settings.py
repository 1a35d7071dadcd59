"""Scrapy settings for `scrapy crawl outlets`: production-minded defaults.

Anything a test or an operator needs to change can be overridden on the command line with
`-s NAME=value`; the outlet configuration itself lives in the YAML directory, not here.
"""

BOT_NAME = "balkanwatch"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
# `scrapy crawl` with balkanwatch's exit status and argument checks (crawler/commands/crawl.py).
COMMANDS_MODULE = "crawler.commands"

# settings.yaml's crawl keys (user_agent, log_level, outlet_timeout, the outlets' politeness) are
# set by the add-on, which also builds the crawl's one configuration context (crawler/context.py).
# Not here: this module's values would outrank the add-on's. `-s NAME=value` outranks both.
ADDONS = {"crawler.context.Balkanwatch": 0}

# Politeness: robots.txt obeyed, an honest user agent (settings.yaml's user_agent), few requests
# per domain and AutoThrottle adapting the delay to each server's latency.
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
RANDOMIZE_DOWNLOAD_DELAY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# Seconds between the start of one outlet and the next within a crawl.
OUTLET_STAGGER = 0.2

# Outlets may set their own crawl_delay / concurrency in outlets.yaml (crawler/politeness.py).
DOWNLOADER_MIDDLEWARES = {
    # An outlet that is done (deadline, shutdown) sends nothing more (crawler/deadline.py).
    "crawler.deadline.OutletDeadlineMiddleware": 10,
    "crawler.politeness.FixedDelayMiddleware": 50,
    # Redirects are followed only on the outlet's own origins (crawler/redirects.py).
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.redirects.OwnOriginMetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.redirects.OwnOriginRedirectMiddleware": 600,
}

# Limits: a slow or huge page must not hold up a crawl. Each outlet also has its own budget
# (OUTLET_TIMEOUT, from settings.yaml outlet_timeout; 0 is none) and the daemon gives its children
# a moment (CRAWL_DEADLINE, epoch seconds) when every outlet is cut: at either, the outlet's
# downloads in flight are cut and its record written.
DOWNLOAD_HANDLERS = {
    "http": "crawler.deadline.OutletDownloadHandler",
    "https": "crawler.deadline.OutletDownloadHandler",
}
CRAWL_DEADLINE = 0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 5

# News pages need no session; a remote shell into a daemon's child is a liability.
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# Already-stored pages are skipped by the spider's persistent seen-set; feeds are revalidated with
# stored ETag/Last-Modified. Scrapy's HTTP cache would second-guess both, so it stays off.
HTTPCACHE_ENABLED = False

# Extraction in worker processes, then one transaction per article (store, dedup, topics, outbox);
# the outbox is delivered when the crawl ends.
# Items handled at once per response. An article response yields one item and a listing yields
# requests (scheduled at once), but Scrapy starts this many asyncio tasks for every response
# (100 by default: about a millisecond of the crawl process per page, for nothing).
CONCURRENT_ITEMS = 4
ITEM_PIPELINES = {
    "pipelines.crawl.ExtractPipeline": 100,
    "pipelines.crawl.IngestPipeline": 200,
}

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
