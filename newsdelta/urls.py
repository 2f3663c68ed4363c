"""URL hygiene: one normal form per article (tracking parameters stripped), and the rules
that keep untrusted feed links from reaching the machine's own network (SSRF)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from newsdelta.errors import BlockedURL, FetchError

_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "ga_", "__hs", "_hs", "oly_")
_TRACKING_PARAMS = {
    "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mkt_tok", "cmpid", "ncid", "ocid",
    "smid", "smtyp", "cid", "ref", "ref_src", "ref_url", "rss", "partner", "taid", "s_cid", "ito", "guccounter",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}


def normalize_url(url: str) -> str:
    """Lower-case scheme and host, drop default port, fragment and tracking parameters."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)])
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, query, ""))


def _is_tracking(key: str) -> bool:
    key = key.lower()
    return key in _TRACKING_PARAMS or key.startswith(_TRACKING_PREFIXES)


@dataclass(frozen=True)
class HostPolicy:
    """Which hosts may be fetched. Public addresses always; private, loopback, link-local and
    reserved ones only when listed (by host name or CIDR) in `allow`."""

    allow: tuple[str, ...] = ()

    def check(self, url: str) -> tuple[str, ...]:
        """Refuse `url` unless its scheme and every address its host resolves to are allowed.
        Returns those addresses: a connection for `url` must go to one of them, because a
        second lookup to connect could answer differently (DNS rebinding)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise BlockedURL(url, f"scheme {parts.scheme or '(none)'!r} is not allowed")
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            raise BlockedURL(url, "no host")
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
        if host in self._allowed_names():
            return tuple(raw for raw, _ in _resolve(host, port, url))
        if host in _METADATA_HOSTS:
            raise BlockedURL(url, f"host {host} is a cloud metadata service")
        resolved = _resolve(host, port, url)
        for _, address in resolved:
            if not address.is_global and not self._allowed_address(address):
                raise BlockedURL(url, f"host {host} resolves to non-public address {address}; to fetch it anyway, add {host} "
                                      "to NEWSDELTA_ALLOW_HOSTS (or [newsdelta] allow_hosts in the config file)")
        return tuple(raw for raw, _ in resolved)

    def _allowed_names(self) -> set[str]:
        return {a.lower() for a in self.allow if not _is_network(a)}

    def _allowed_address(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        for entry in self.allow:
            if _is_network(entry) and address in ipaddress.ip_network(entry, strict=False):
                return True
        return False


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
        return True
    except ValueError:
        return False


def _resolve(host: str, port: int, url: str) -> list[tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address]]:
    """Each distinct address `host` resolves to: as the resolver gave it (to connect to) and
    parsed (to check)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(url, f"cannot resolve host {host}: {exc.strerror}") from None
    addresses: list[tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address]] = []
    for info in infos:
        raw = str(info[4][0])
        address = ipaddress.ip_address(raw.split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if all(raw != seen for seen, _ in addresses):
            addresses.append((raw, address))
    return addresses
