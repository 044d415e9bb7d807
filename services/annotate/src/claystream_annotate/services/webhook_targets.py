"""Which webhook targets are acceptable: a well-formed http(s) URL whose host resolves only to public
addresses (loopback, private, link-local, multicast, reserved and unspecified ones are refused unless
the ``webhook_allow_private_targets`` setting allows them).

The check runs when a subscription is saved (422 naming ``url``) and again before every request, so a
name re-pointed at an internal address later is refused at send time too.  Residual risk (documented
in SECURITY.md terms): a DNS answer that changes between this check and the connection itself.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from claystream_annotate.services.errors import Invalid

MAX_URL_LENGTH = 2048


def normalise_url(url: str) -> str:
    """The URL, stripped, or Invalid("url", reason)."""
    url = (url or "").strip()
    if not url:
        raise Invalid("url", "is required")
    if len(url) > MAX_URL_LENGTH:
        raise Invalid("url", f"longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise Invalid("url", f"not a valid URL ({error})") from None
    if parts.scheme not in ("http", "https"):
        raise Invalid("url", "must start with http:// or https://")
    if not parts.hostname:
        raise Invalid("url", "has no host")
    if parts.username or parts.password:
        raise Invalid("url", "must not carry credentials (use the signing secret)")
    if parts.fragment:
        raise Invalid("url", "must not carry a #fragment")
    if port == 0:
        raise Invalid("url", "port 0 is not a valid port")
    if any(c.isspace() for c in url):
        raise Invalid("url", "must not contain whitespace")
    return url


def is_public_address(address: str) -> bool:
    """Public, and so is every IPv4 address it carries: an IPv4-mapped, 6to4 (2002::/16) or Teredo address reaches
    the IPv4 address inside it through a relay, so ``2002:0a00:0001::`` is 10.0.0.1.  Site-local (fec0::/10,
    deprecated but still routed by some networks) counts as private."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return False
        candidates += [inner for inner in (ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())) if inner is not None]
    return all(c.is_global and not (c.is_multicast or c.is_reserved or c.is_unspecified) for c in candidates)


async def resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


async def refusal_reason(url: str, *, allow_private: bool) -> str | None:
    """Why this target may not be called now (None when it may)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    # one answer whether the name does not resolve or resolves inside: telling them apart (or echoing the address)
    # let a workspace admin map internal host names and their addresses
    refused = f"host {host} does not resolve to a public address; not allowed"
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError, ValueError):  # UnicodeError: a label IDNA refuses (empty, over 63 characters)
        return refused
    if not addresses:
        return refused
    if allow_private:
        return None
    if any(not is_public_address(a) for a in addresses):
        return refused
    return None


async def check_target(url: str, *, allow_private: bool) -> str:
    """normalise_url + refusal_reason, as a 422 on ``url``."""
    url = normalise_url(url)
    reason = await refusal_reason(url, allow_private=allow_private)
    if reason is not None:
        raise Invalid("url", reason)
    return url
