"""Canonical article URLs and outlet domain checks.

One story, one alert (SPEC) starts here: the same article reached through a feed
with ``utm_*`` parameters, through a homepage link, through its AMP page or the
old mobile host must come out as one URL, so that storage and dedup see it once.

The percent-encoding, query-sorting and IDNA work is w3lib's
``canonicalize_url`` (the function Scrapy fingerprints requests with); this
module adds only what w3lib deliberately leaves alone: tracking parameters,
default ports, AMP and mobile variants. Pure functions, no Scrapy import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import unquote, urlsplit, urlunsplit

import tldextract
from w3lib.url import canonicalize_url

__all__ = [
    "TRACKING_PARAMS",
    "TRACKING_PREFIXES",
    "canonical_url",
    "is_own_domain",
    "registered_domain",
    "same_origin",
]

# Exact query keys (compared lower-cased) that only say where a click came from.
# Sources: Google Analytics/Ads, Meta, Microsoft, Mailchimp, HubSpot, Matomo,
# Yandex, Twitter/X, TikTok, LinkedIn, BBC/comScore, AT Internet, Parse.ly.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "gad_source",
        "msclkid", "yclid", "ysclid", "ttclid", "twclid", "li_fat_id", "igshid",
        "igsh", "srsltid", "epik", "rdt_cid", "s_kwcid", "ef_id",
        "mc_cid", "mc_eid", "mkt_tok", "_ga", "_gl", "_hsenc", "_hsmi",
        "__hssc", "__hstc", "__hsfp", "hsctatracking", "_openstat", "vero_id",
        "vero_conv", "oly_anon_id", "oly_enc_id", "wickedid", "ref_src", "ref_url",
        "__twitter_impression", "fb_action_ids", "fb_action_types", "fb_ref",
        "fb_source", "action_object_map", "action_type_map", "action_ref_map",
        "xtor", "at_medium", "at_campaign", "at_campaign_type", "at_creation",
        "at_format", "at_platform", "at_send_date", "cmpid", "ocid", "spm",
        "itm_source", "itm_medium", "itm_campaign",
    }
)  # fmt: skip
# Key prefixes that are tracking whatever follows (utm_source, pk_campaign, ...).
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "piwik_", "ns_", "hsa_")

# Query keys that switch a page to its AMP rendering; dropped whatever the value.
_AMP_KEYS = frozenset({"amp", "_amp"})
# Query keys whose value "amp" (only) asks for the AMP rendering.
_AMP_VALUE_KEYS = frozenset({"outputtype", "output", "format", "view"})
# First host labels of mobile and AMP editions of a site.
_VARIANT_HOST_LABELS = ("m", "mobile", "mobil", "amp")
_DEFAULT_PORTS = {"http": 80, "https": 443}

# The bundled public-suffix snapshot only: no download, no cache file. The
# snapshot ages, but Balkan ccTLDs (.rs, .ba, .me, .mk, .al, .hr) do not change.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def canonical_url(url: str, main_host: str | None = None) -> str:
    """Return the one URL under which an article is stored and deduplicated.

    Lower-cases scheme and host, drops default ports, fragments and tracking
    parameters, sorts the query, normalises percent-encoding, and maps AMP and
    mobile variants to the main article. The trailing slash stays as the site
    wrote it: ``/a`` and ``/a/`` may be different resources, and guessing wrong
    would store URLs that redirect or 404.

    ``main_host`` (the outlet's homepage host) says where a mobile host such as
    ``m.example.com`` lives on the desktop site; without it ``www.example.com``
    is assumed, which is what sites with a mobile edition almost always use.
    Non-HTTP URLs (mailto:, javascript:) come back unchanged apart from
    surrounding whitespace.
    """
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    netloc = _canonical_netloc(scheme, parts.netloc, main_host)
    path = _strip_amp_path(parts.path) or "/"
    query = _clean_query(parts.query)
    rebuilt = urlunsplit((scheme, netloc, path, query, ""))
    return canonicalize_url(rebuilt, keep_blank_values=True, keep_fragments=False)


def registered_domain(url: str) -> str:
    """Return the registrable domain of a URL or bare host: ``www.koha.net`` -> ``koha.net``.

    Hosts without a public suffix (IP addresses, ``localhost``, test hosts)
    are returned whole, so a local test server still counts as one domain.
    """
    return _registered_domain_of_host(_host_of(url))


def is_own_domain(url: str, domains: Iterable[str]) -> bool:
    """Whether ``url`` lies on one of an outlet's domains (any subdomain of it, same port).

    Only the outlet's own domains are followed (SPEC); comparing registrable
    domains lets ``puna.telegrafi.com`` count for ``telegrafi.com`` while
    ``telegrafi.com.evil.example`` does not. Host and port together are the
    origin: ``example.rs:8080`` is another site than ``example.rs`` unless
    listed, while 80 and 443 are one site (http and https of it).
    """
    host = _host_of(url)
    if not host:
        return False
    own = (_registered_domain_of_host(host), _port_of(url))
    return any(
        own == (registered_domain(domain), _port_of(domain)) for domain in domains if domain.strip()
    )


def site_of(url: str) -> str:
    """``host[:port]`` of a URL, the port left out when it is the scheme's default: an entry
    for `is_own_domain` that keeps the URL's port as part of the site."""
    parts = urlsplit(url)
    port = parts.port if parts.port not in (None, 80, 443) else None
    return f"{parts.hostname or ''}" + (f":{port}" if port else "")


def same_origin(url: str, other: str) -> bool:
    """Same host (exactly) and port, 80 and 443 counting as one."""
    return bool(_host_of(url)) and (_host_of(url), _port_of(url)) == (
        _host_of(other),
        _port_of(other),
    )


def _port_of(url_or_host: str) -> int | None:
    """The explicit port of a URL or ``host:port``; None for none or a default one."""
    text = url_or_host.strip()
    if "://" not in text:
        text = "//" + text.lstrip("/")
    try:
        port = urlsplit(text).port
    except ValueError:
        return None
    return None if port in (None, 80, 443) else port


_OPAQUE_SCHEME_RE = re.compile(r"[a-z][a-z0-9+.-]*:(?!\d)", re.IGNORECASE)


def _host_of(url_or_host: str) -> str:
    """Host of a URL, or of a bare ``host[:port][/path]`` as written in configuration."""
    text = url_or_host.strip()
    if "://" not in text:
        if _OPAQUE_SCHEME_RE.match(text):  # mailto:, tel:, javascript: have no host
            return ""
        text = "//" + text.lstrip("/")
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return ""
    return host.rstrip(".").lower()


@lru_cache(maxsize=4096)
def _registered_domain_of_host(host: str) -> str:
    if not host:
        return ""
    extracted = _EXTRACT(host)
    domain = getattr(extracted, "top_domain_under_public_suffix", None)
    if domain is None:  # tldextract < 5.3 spells it registered_domain
        domain = extracted.registered_domain
    return domain or host


def _canonical_netloc(scheme: str, netloc: str, main_host: str | None) -> str:
    userinfo, _, hostport = netloc.rpartition("@")
    host, port = hostport, ""
    if hostport.rfind(":") > hostport.rfind("]"):  # a port, not an IPv6 colon
        host, _, port = hostport.rpartition(":")
    host = _desktop_host(host.lower().rstrip("."), main_host)
    if port and port.isdigit() and int(port) == _DEFAULT_PORTS[scheme]:
        port = ""
    netloc = host + (f":{port}" if port else "")
    return f"{userinfo}@{netloc}" if userinfo else netloc


def _desktop_host(host: str, main_host: str | None) -> str:
    """Map ``m.``, ``mobile.`` and ``amp.`` hosts to the site's main host."""
    label, _, rest = host.partition(".")
    if label not in _VARIANT_HOST_LABELS or not rest:
        return host
    domain = _registered_domain_of_host(host)
    if domain == host:  # "amp.rs" is itself a site, not a variant of one
        return host
    if rest != domain:  # m.sport.example.com -> sport.example.com
        return rest
    if main_host:
        main = _host_of(main_host)
        if main and _registered_domain_of_host(main) == domain:
            return main
    return "www." + domain


def _strip_amp_path(path: str) -> str:
    """Drop ``amp`` path segments and the ``.amp`` in ``story.amp.html``."""
    segments = path.split("/")
    kept = [s for s in segments if s.lower() != "amp"]
    if len(kept) == 1 and kept != segments:  # "/amp" -> ""
        kept = ["", ""]
    stem, dot_amp, extension = kept[-1].rpartition(".amp.")
    if dot_amp and stem and extension.lower() in ("html", "htm"):
        kept[-1] = f"{stem}.{extension}"
    return "/".join(kept)


def _clean_query(query: str) -> str:
    """Drop tracking and AMP parameters, leaving every other pair byte for byte.

    Pairs are not decoded and re-encoded here: a query in a legacy encoding
    (``%E8`` from a windows-1250 site) must survive untouched for w3lib.
    """
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        raw_key, _, raw_value = pair.partition("=")
        key = unquote(raw_key.replace("+", " ")).strip().lower()
        if _is_tracking_key(key) or key in _AMP_KEYS:
            continue
        if key in _AMP_VALUE_KEYS and unquote(raw_value).strip().lower() == "amp":
            continue
        kept.append(pair)
    return "&".join(kept)


def _is_tracking_key(key: str) -> bool:
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)
