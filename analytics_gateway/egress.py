"""The one egress policy for every connection made on a tenant's behalf.

Webhooks, Slack and SMTP reach hosts that tenants choose. Unchecked, a tenant
could point one at the gateway's own network: its stores (a Prometheus error
message quoting another tenant's values, an InfluxDB `DROP SERIES`), a cloud
metadata service, or any port to map what answers. So every such connection:

- resolves the name itself and refuses loopback, private, link-local (where
  cloud metadata services answer), shared (carrier-grade NAT), multicast,
  unspecified and reserved addresses, IPv4 and IPv6, including IPv4 carried
  in IPv6 (mapped, 6to4, Teredo, NAT64), unless the operator allows the
  network or the host name (`ANALYTICS_EGRESS_ALLOW`: CIDRs and host names,
  `*.example.com` for a domain's subdomains);
- connects to the address it checked (aiohttp's resolver hook, or a socket
  opened here for SMTP), so a name that resolves differently a moment later
  (DNS rebinding) never gets a connection;
- follows no redirects and ignores proxy settings of the environment.

Channels are checked when they are created or changed (`BadUserInput`
naming the rule) and again at every send.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from analytics_gateway.errors import BadUserInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SETTING = "ANALYTICS_EGRESS_ALLOW"
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EgressRefused(BadUserInput):
    """A destination the policy does not allow; the message names the rule."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo client, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: Address) -> str | None:
    """Why the address is not a public destination, or None when it is one."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            why = refusal(inner)
            return f"{why} (carried in IPv6)" if why else None
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local (cloud metadata services answer there)"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "shared (carrier-grade NAT)"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-public"
    return None


def _host_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise EgressRefused("url: an http(s) URL with a host is required", field="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise EgressRefused("url: the port is not a number from 1 to 65535", field="url") from None
    return host, port


@dataclass(frozen=True)
class EgressPolicy:
    """Which destinations are allowed besides public addresses."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, text: str) -> EgressPolicy:
        """`"127.0.0.1/32, 10.1.0.0/16, hooks.internal, *.corp.example"` (comma-separated)."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                name = item.lower().rstrip(".")
                if not name or any(c.isspace() or c in "/:@" for c in name):
                    raise ValueError(
                        f"{SETTING}: {item!r} is neither a CIDR nor a host name"
                    ) from None
                hosts.add(name)
        return cls(tuple(networks), frozenset(hosts))

    def allows_host(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        return name in self.hosts or any(
            h.startswith("*.") and name.endswith(h[1:]) for h in self.hosts
        )

    def check_address(self, host: str, address: Address, what: str = "url") -> None:
        if any(address in network for network in self.networks):
            return
        why = refusal(address)
        if why is not None:
            shown = host if host == str(address) else f"{host} ({address})"
            raise EgressRefused(
                f"{what}: {shown} is a {why} address; the gateway does not connect to "
                f"loopback, private, link-local or other non-public addresses unless "
                f"{SETTING} allows them",
                field=what,
                rule="egress",
            )

    async def resolve(self, host: str, port: int, what: str = "url") -> list[Address]:
        """The host's addresses, every one of them allowed (else `EgressRefused`)."""
        literal = _literal(host)
        if literal is not None:
            self.check_address(host, literal, what)
            return [literal]
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise EgressRefused(
                f"{what}: the host {host!r} does not resolve ({exc.strerror or exc})", field=what
            ) from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
        if not self.allows_host(host):
            for address in addresses:
                self.check_address(host, address, what)
        return addresses

    async def check_url(self, url: str, what: str = "url") -> None:
        host, port = _host_of(url)
        await self.resolve(host, port, what)

    def check_literal_url(self, url: str) -> None:
        """An IP-literal host is never resolved, so it is checked here, before connecting."""
        host, _ = _host_of(url)
        literal = _literal(host)
        if literal is not None:
            self.check_address(host, literal)


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


class EgressBlocked(OSError):
    """Raised inside aiohttp's connector when a resolved address is not allowed."""

    def __init__(self, refused: EgressRefused) -> None:
        super().__init__(refused.message)
        self.refused = refused


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver hook: the connection goes to the addresses checked here."""

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy
        self._resolver = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        if not self._policy.allows_host(host):
            try:
                for result in results:
                    self._policy.check_address(host, ipaddress.ip_address(result["host"]))
            except EgressRefused as exc:
                raise EgressBlocked(exc) from None
        return results

    async def close(self) -> None:
        await self._resolver.close()


async def open_socket(
    policy: EgressPolicy, host: str, port: int, seconds: float, what: str = "smtpHost"
) -> socket.socket:
    """A TCP connection to an allowed address of `host` (for clients that take a socket)."""
    loop = asyncio.get_running_loop()
    last: Exception | None = None
    for address in await policy.resolve(host, port, what):
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (str(address), port)), seconds)
            return sock
        except (OSError, TimeoutError) as exc:
            sock.close()
            last = exc
    raise OSError(f"could not connect to {host}:{port}") from last


def connector_kwargs(policy: EgressPolicy) -> dict[str, Any]:
    """What an aiohttp `TCPConnector` needs to keep to the policy."""
    return {"resolver": GuardedResolver(policy), "use_dns_cache": False}


def first_refusal(errors: Iterable[BaseException]) -> EgressRefused | None:
    """The egress refusal in an exception chain, if any."""
    for error in errors:
        seen: BaseException | None = error
        while seen is not None:
            if isinstance(seen, EgressBlocked):
                return seen.refused
            if isinstance(seen, EgressRefused):
                return seen
            seen = seen.__cause__ or seen.__context__
    return None


__all__ = [
    "EgressBlocked",
    "EgressPolicy",
    "EgressRefused",
    "GuardedResolver",
    "connector_kwargs",
    "first_refusal",
    "open_socket",
    "refusal",
]
