"""Where webhooks may point (SSRF) and how failures are told without the URL (pure)."""

from __future__ import annotations

import httpx
import pytest

from koprogo_graph.notify.targets import (
    RefusedTarget,
    check_webhook_url,
    describe_failure,
    is_public,
    pinned_request,
)

PRIVATE = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "::1",
    "fe80::1",
    "fc00::1",
    "::ffff:127.0.0.1",
    "224.0.0.1",
]


@pytest.mark.parametrize("address", PRIVATE)
def test_private_loopback_and_link_local_addresses_are_not_public(address):
    assert not is_public(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "193.190.198.27"])
def test_global_addresses_are_public(address):
    assert is_public(address)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/graphql",
        "http://localhost/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest/meta-data/",
        "https://10.0.0.5/hook",
        "http://[::ffff:7f00:1]/x",
    ],
)
async def test_webhooks_to_internal_addresses_are_refused_unless_allowed(url):
    with pytest.raises(RefusedTarget) as refused:
        await check_webhook_url(url, allow_private=False)
    assert url not in str(refused.value)
    with pytest.raises(RefusedTarget):
        await pinned_request(url, allow_private=False)
    await check_webhook_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url", ["ftp://x/y", "http://", "http://a b/", "x" * 3000, "http://h:99999/"]
)
async def test_malformed_webhook_urls_are_refused(url):
    with pytest.raises(RefusedTarget):
        await check_webhook_url(url, allow_private=True)


async def test_a_delivery_goes_to_the_address_it_checked_with_the_host_name_kept():
    url, headers, extensions = await pinned_request(
        "http://localhost:8123/hook?x=1", allow_private=True
    )
    assert url in ("http://127.0.0.1:8123/hook?x=1", "http://[::1]:8123/hook?x=1")
    assert headers == {"Host": "localhost:8123"}
    assert extensions == {}
    url, headers, extensions = await pinned_request("https://localhost/h", allow_private=True)
    assert extensions == {"sni_hostname": "localhost"} and headers == {"Host": "localhost"}


def test_failures_are_described_without_the_url():
    url = "https://hooks.example.org/services/T000/B000/s3cr3t-token"
    request = httpx.Request("POST", url)
    failures = [
        httpx.HTTPStatusError(
            "boom " + url, request=request, response=httpx.Response(404, request=request)
        ),
        httpx.ConnectError(f"cannot reach {url}", request=request),
        httpx.ReadTimeout(f"slow {url}", request=request),
        httpx.RemoteProtocolError(url, request=request),
        RefusedTarget("points to a private, loopback or link-local address"),
        RuntimeError(url),
    ]
    described = [describe_failure(f) for f in failures]
    assert described[:3] == ["HTTP 404", "could not connect", "timed out"]
    for text in described:
        assert "s3cr3t" not in text and "hooks.example.org" not in text


@pytest.mark.parametrize("address", ["64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2002:0a00:0001::1"])
def test_ipv4_inside_ipv6_is_judged_by_the_ipv4_it_reaches(address):
    assert not is_public(address)


async def test_pinning_keeps_credentials_and_brackets_ipv6_hosts():
    url, headers, _ = await pinned_request("http://user:pw@127.0.0.1:8123/h", allow_private=True)
    assert url == "http://user:pw@127.0.0.1:8123/h" and headers == {"Host": "127.0.0.1:8123"}
    url, headers, _ = await pinned_request("http://[::1]:8123/h", allow_private=True)
    assert url == "http://[::1]:8123/h" and headers == {"Host": "[::1]:8123"}


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:8080/hook",
        "mailto://user:pw@mail.example?smtp=10.0.0.5",
        "ntfy://[::1]/topic",
    ],
)
async def test_a_channel_to_a_private_host_is_refused_when_set_and_when_sent(url):
    from koprogo_graph.notify.channels import ChannelUrlError, inspect_url, send

    with pytest.raises(ChannelUrlError, match="private"):
        await inspect_url(url, allow_private=False)
    # A name re-pointed after it was configured: the delivery checks again, sends nothing.
    with pytest.raises(RefusedTarget):
        await send(url, "title", "body", allow_private=False)
