"""Which proxy a request goes through, from the environment, as curl,
kubectl and Terraform decide it.

- ``HTTPS_PROXY`` for an https URL, ``HTTP_PROXY`` for an http one; the
  lowercase form wins where both are set, and a lowercase one set empty
  means none (curl's reading, and the standard library's
  ``getproxies_environment``, which reads them). A value without a scheme
  is an ``http://`` proxy; ``http://`` and ``https://`` proxies are taken
  (aiohttp speaks to no other); a user and password in it are sent as
  ``Proxy-Authorization`` and never shown.
- Never for ``localhost`` or a loopback address (Go's rule: the embedded
  sandbox, and tests, keep working on a machine with a proxy set).
- ``NO_PROXY`` (or ``no_proxy``) as Go's ``httpproxy`` reads it, which the
  standard library's ``proxy_bypass_environment`` does not (it has no CIDR
  ranges, no IPv6, and takes ``.example.com`` for ``example.com`` too):
  comma-separated entries, ``*`` for every host; a name matches itself and
  its subdomains, ``.name`` or ``*.name`` only its subdomains; an IP
  address, or a CIDR range, matches a URL written with an address in it;
  ``:port`` limits an entry to that port (the URL's default port counted).
- A proxy variable that is not a usable URL is an error only where it
  would be used.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit
from urllib.request import getproxies_environment

from konvsync.api.endpoints import is_loopback
from konvsync.errors import UsageError
from konvsync.support import redact
from konvsync.support.redact import printable

PROXY_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class ProxyRoute:
    """How requests to one URL go: through which proxy, or direct and why."""

    proxy: str | None = field(default=None, repr=False)
    """The proxy's URL for aiohttp, its user and password included; None: direct."""
    shown: str = ""
    """The proxy's URL as it may be shown: ``http://***@proxy.corp:3128``."""
    why: str = ""
    """The variable the proxy comes from, or why there is none."""

    def describe(self) -> str:
        if self.proxy is None:
            return f"direct ({self.why})"
        return f"through proxy {self.shown} ({self.why})"

    @property
    def via(self) -> str:
        """`` through proxy http://***@proxy.corp:3128 (HTTPS_PROXY)``, or
        nothing when direct: what an error about a request says of its route."""
        return f" through proxy {self.shown} ({self.why})" if self.proxy is not None else ""


def proxy_route(url: str) -> ProxyRoute:
    """The route of requests to ``url`` (an http or https URL), from the
    environment as it is now; ``UsageError`` if the proxy it would go
    through is no usable URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    proxies = getproxies_environment()
    value = proxies.get(scheme, "").strip()
    if not value:
        return ProxyRoute(why=f"no {scheme.upper()}_PROXY or {scheme}_proxy set")
    if is_loopback(host):
        return ProxyRoute(why=f"{host} is loopback, never proxied")
    port = parts.port or (443 if scheme == "https" else 80)
    entry = no_proxy_entry(host, port, proxies.get("no", ""))
    if entry is not None:
        return ProxyRoute(why=f"NO_PROXY entry {printable(entry)!r} matches {host}")
    return _proxy(value, _variable(scheme, proxies[scheme]))


def _variable(scheme: str, value: str) -> str:
    """Which variable ``value`` was read from: the lowercase one, unless it is unset."""
    lower = f"{scheme}_proxy"
    return lower if os.environ.get(lower) == value else lower.upper()


def _proxy(value: str, variable: str) -> ProxyRoute:
    written = value if "://" in value else f"http://{value}"
    shown = _shown(written)

    def refused(why: str) -> UsageError:
        return UsageError(f"{variable} ({shown}) is not a proxy URL: {why}")

    try:
        parts = urlsplit(written)
    except ValueError:
        raise refused("it does not parse as one") from None
    if "@" in written.partition("://")[2] and "@" not in parts.netloc:
        # A / ? or # in the password ends the host part there: the proxy
        # would be its user name and the password's first part as a port.
        raise refused("percent-encode a / ? or # in its user or password (%2F, %3F, %23)")
    scheme = parts.scheme.lower()
    if scheme not in PROXY_SCHEMES:
        raise refused(f"konvsync goes through http:// and https:// proxies, not {scheme}://")
    try:
        port = parts.port
    except ValueError:
        raise refused("its port is not a number from 1 to 65535") from None
    if port == 0:
        raise refused("its port is not a number from 1 to 65535")
    if not parts.hostname:
        raise refused("it names no host")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    address = f"{host}:{port}" if port is not None else host
    if parts.username is None and parts.password is None:
        return ProxyRoute(f"{scheme}://{address}", f"{scheme}://{address}", variable)
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    _register(user, password)
    userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return ProxyRoute(f"{scheme}://{userinfo}@{address}", f"{scheme}://***@{address}", variable)


def _shown(written: str) -> str:
    """``written`` without what comes before its last ``@``: the user and
    password, however they are written (a password may hold ``/``)."""
    scheme, _, rest = written.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return printable(f"{scheme}://{rest}")


def _register(user: str, password: str) -> None:
    """The password, as it may appear, is masked in everything shown from now on."""
    for form in (
        password,
        quote(password, safe=""),
        base64.b64encode(f"{user}:{password}".encode()).decode(),
    ):
        redact.register(form)


def no_proxy_entry(host: str, port: int, no_proxy: str) -> str | None:
    """The first entry of ``no_proxy`` that matches ``host`` (lowercase) and
    ``port``, as Go's ``httpproxy`` matches them; None when none does."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for written in no_proxy.split(","):
        entry = written.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return written.strip()
        if "/" in entry:
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            if address is not None and address in network:
                return written.strip()
            continue
        name, entry_port = _split_port(entry)
        if not name or (entry_port and entry_port != str(port)):
            continue
        try:
            entry_address = ipaddress.ip_address(name)
        except ValueError:
            entry_address = None
        if entry_address is not None:
            if entry_address == address:
                return written.strip()
            continue
        if name.startswith("*."):
            name = name[1:]
        if host.endswith(name if name.startswith(".") else f".{name}") or host == name:
            return written.strip()
    return None


def _split_port(entry: str) -> tuple[str, str]:
    """An entry's host and port (``""`` without one): ``name:443``,
    ``10.0.0.1:443``, ``[2001:db8::1]:443``; a bare IPv6 address has none."""
    if entry.startswith("["):
        name, _, rest = entry[1:].partition("]")
        return name, rest[1:] if rest.startswith(":") else ""
    if entry.count(":") == 1:
        name, _, port = entry.partition(":")
        return name, port
    return entry, ""
