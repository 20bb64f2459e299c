"""The egress policy: which addresses a tenant's webhook, Slack or SMTP channel may reach."""

from __future__ import annotations

import ipaddress

import pytest

from analytics_gateway.egress import (
    EgressBlocked,
    EgressPolicy,
    EgressRefused,
    GuardedResolver,
    refusal,
)

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "::1": "loopback",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "fd00:ec2::254": "private",  # AWS metadata over IPv6
    "169.254.169.254": "link-local",  # cloud metadata
    "fe80::1": "link-local",
    "100.100.100.200": "shared",  # a cloud metadata address in carrier-grade NAT space
    "224.0.0.1": "multicast",
    "ff02::1": "multicast",
    "240.0.0.1": "reserved",
    "192.0.2.1": "private",  # documentation range (IANA special-purpose)
    "::ffff:127.0.0.1": "loopback",  # IPv4-mapped
    "::ffff:169.254.169.254": "link-local",
    "2002:7f00:1::": "loopback",  # 6to4 of 127.0.0.1
    "64:ff9b::a00:1": "private",  # NAT64 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe": "private",  # Teredo, client 10.0.0.1
}
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize(("address", "why"), REFUSED.items())
def test_non_public_addresses_are_refused_with_their_kind(address: str, why: str) -> None:
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None
    assert reason.startswith(why)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_the_setting_allows_networks_and_host_names() -> None:
    policy = EgressPolicy.parse("127.0.0.1/32, 10.1.0.0/16 ,hooks.internal, *.corp.example")
    policy.check_address("127.0.0.1", ipaddress.ip_address("127.0.0.1"))
    policy.check_address("x", ipaddress.ip_address("10.1.200.3"))
    with pytest.raises(EgressRefused, match="private"):
        policy.check_address("x", ipaddress.ip_address("10.2.0.1"))
    with pytest.raises(EgressRefused, match="loopback"):
        policy.check_address("x", ipaddress.ip_address("127.0.0.2"))
    assert policy.allows_host("hooks.internal")
    assert policy.allows_host("HOOKS.internal.")
    assert policy.allows_host("a.b.corp.example")
    assert not policy.allows_host("corp.example")
    assert not policy.allows_host("evilcorp.example")
    with pytest.raises(ValueError, match="ANALYTICS_EGRESS_ALLOW"):
        EgressPolicy.parse("http://x/")


async def test_names_are_resolved_and_every_address_checked() -> None:
    policy = EgressPolicy()
    for url in (
        "http://localhost:9090/api/v1/query?query=up",
        "http://127.0.0.1:8086/query?q=DROP+SERIES+FROM+revenue",
        "http://[::1]:80/",
        "http://[::ffff:127.0.0.1]:9090/",
        "http://0x7f000001/",  # what inet_aton reads as 127.0.0.1
        "http://2130706433/",
        "http://169.254.169.254/latest/meta-data/",
    ):
        with pytest.raises(EgressRefused) as refused:
            await policy.check_url(url)
        assert refused.value.extensions["field"] == "url"
        assert refused.value.extensions["rule"] == "egress"
        assert "ANALYTICS_EGRESS_ALLOW" in refused.value.message
    with pytest.raises(EgressRefused, match="http"):
        await policy.check_url("file:///etc/passwd")
    with pytest.raises(EgressRefused, match="does not resolve"):
        await policy.check_url("http://no-such-host.invalid/")


async def test_a_name_allowed_by_the_operator_may_resolve_anywhere() -> None:
    assert await EgressPolicy.parse("localhost").resolve("localhost", 80) != []


async def test_the_connector_hook_refuses_what_the_policy_refuses() -> None:
    resolver = GuardedResolver(EgressPolicy())
    try:
        with pytest.raises(EgressBlocked) as blocked:
            await resolver.resolve("localhost", 80)
        assert "loopback" in blocked.value.refused.message
    finally:
        await resolver.close()
    allowed = GuardedResolver(EgressPolicy.parse("127.0.0.0/8, ::1/128"))
    try:
        found = await allowed.resolve("localhost", 80)
        assert {r["host"] for r in found} <= {"127.0.0.1", "::1"}
    finally:
        await allowed.close()
