"""Access tokens from a real OpenID provider (`oidc-provider`, npm) beside API keys.

The provider runs from `tests/fixtures/oidc` with clients in two tenants;
its private signing keys are made here, so tests can also sign the tokens an
attacker or a broken provider would send (expired, for another audience or
issuer, `alg: none`, HS256 keyed with the public key, an unknown `kid`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosed

from analytics_gateway.app import create_app
from analytics_gateway.oidc import IdentityProvider
from tests.conftest import MakeKey, asgi_transport, make_settings, serving, started
from tests.graphql_ws import GraphQLWS
from tests.servers import OidcProvider, free_port, oidc_provider

AUDIENCE = "https://analytics-gateway.test"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def _jwk(key: PrivateKey, kid: str, alg: str) -> dict[str, Any]:
    codec = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}[alg]
    data: dict[str, Any] = json.loads(codec.to_jwk(key))  # type: ignore[attr-defined]
    return {**data, "kid": kid, "alg": alg, "use": "sig"}


RSA_OLD = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_NEW = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ROGUE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
SIGNERS: dict[str, tuple[PrivateKey, str]] = {
    "rsa-1": (RSA_OLD, "RS256"),
    "ec-1": (EC_KEY, "ES256"),
    "ed-1": (ED_KEY, "EdDSA"),
}
FIRST_KEYS = {"keys": [_jwk(key, kid, alg) for kid, (key, alg) in SIGNERS.items()]}
# rotated: a new RSA key first (the provider signs with it), the old one still published
ROTATED_KEYS = {"keys": [_jwk(RSA_NEW, "rsa-2", "RS256"), *FIRST_KEYS["keys"]]}

QUERY_VIEWER = "{ viewer }"
INGEST = 'mutation { ingestMetrics(points: [{name: "%s", value: 1}]) { accepted } }'


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[OidcProvider]:
    with oidc_provider(tmp_path / "oidc", AUDIENCE, FIRST_KEYS) as server:
        yield server


@contextlib.asynccontextmanager
async def gateway(
    provider: OidcProvider, data_dir: Path, **overrides: Any
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    settings = make_settings(
        data_dir, oidc_issuer=provider.issuer, oidc_audience=AUDIENCE, **overrides
    )
    async with started(create_app(settings, registry=CollectorRegistry())) as app:
        transport = asgi_transport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield app, http


async def post(http: httpx.AsyncClient, credential: str, query: str) -> httpx.Response:
    return await http.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {credential}"}
    )


async def data(http: httpx.AsyncClient, credential: str, query: str) -> dict[str, Any]:
    response = await post(http, credential, query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def claims(provider: OidcProvider, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": provider.issuer,
        "aud": AUDIENCE,
        "sub": "acme-app",
        "tenant": "acme",
        "scope": "read",
        "iat": now,
        "exp": now + 300,
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def signed(payload: dict[str, Any], kid: str = "rsa-1", key: PrivateKey | None = None) -> str:
    own, alg = SIGNERS.get(kid, (ROGUE, "RS256"))
    return jwt.encode(payload, key or own, algorithm=alg, headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(payload: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(payload).encode())}."


def hs256_with_public_key(payload: dict[str, Any]) -> str:
    """The classic confusion attack: HMAC keyed with the provider's public RSA key."""
    public = RSA_OLD.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    signing_input = f"{header}.{_b64(json.dumps(payload).encode())}"
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


async def test_a_token_reads_its_own_tenant_only(
    provider: OidcProvider, tmp_path: Path, make_key: MakeKey
) -> None:
    globex_key = await make_key("globex", "ingest,read")
    async with gateway(provider, tmp_path / "data") as (_, http):
        acme = provider.token("acme-app", "ingest read")
        globex = provider.token("globex-reader", "read")
        viewer = (await data(http, acme, QUERY_VIEWER))["viewer"]
        assert viewer == {"tenant": "acme", "keyId": "jwt:acme-app", "scopes": ["ingest", "read"]}

        assert (await data(http, acme, INGEST % "acme_only"))["ingestMetrics"]["accepted"] == 1
        stored = await data(http, globex_key, INGEST % "globex_only")
        assert stored["ingestMetrics"]["accepted"] == 1
        assert (await data(http, acme, "{ metricNames }"))["metricNames"] == ["acme_only"]
        assert (await data(http, globex, "{ metricNames }"))["metricNames"] == ["globex_only"]
        # API keys keep working beside tokens
        assert (await data(http, globex_key, "{ metricNames }"))["metricNames"] == ["globex_only"]


async def test_es256_and_eddsa_tokens_from_the_published_keys_are_accepted(
    provider: OidcProvider, tmp_path: Path
) -> None:
    async with gateway(provider, tmp_path / "data") as (_, http):
        for kid in ("ec-1", "ed-1"):
            token = signed(claims(provider, sub=f"svc-{kid}"), kid)
            viewer = (await data(http, token, QUERY_VIEWER))["viewer"]
            assert viewer["tenant"] == "acme"
            assert viewer["keyId"] == f"jwt:svc-{kid}"


async def test_bad_tokens_are_401_unauthenticated_with_a_reason(
    provider: OidcProvider, tmp_path: Path
) -> None:
    past = int(time.time()) - 600
    refused = {
        "token expired": signed(claims(provider, iat=past, exp=past + 60)),
        "token is not for this gateway (aud)": signed(claims(provider, aud="https://other")),
        "token is not from the configured issuer (iss)": signed(
            claims(provider, iss="http://127.0.0.1:1")
        ),
        "token not yet valid": signed(claims(provider, nbf=int(time.time()) + 600)),
        "token has no 'exp' claim": signed(claims(provider, exp=None)),
        "token algorithm 'none' is not accepted (RS256, ES256 or EdDSA)": unsigned(
            claims(provider)
        ),
        "token algorithm 'HS256' is not accepted (RS256, ES256 or EdDSA)": (
            hs256_with_public_key(claims(provider))
        ),
        "token signed by an unknown key": signed(claims(provider), "rogue"),
        "token signature does not verify": signed(claims(provider), "rsa-1", key=ROGUE),
        "token algorithm does not match its signing key": jwt.encode(
            claims(provider), RSA_OLD, algorithm="RS256", headers={"kid": "ec-1"}
        ),
        "token's 'tenant' claim is not a tenant name": signed(claims(provider, tenant="a/b")),
        "token has no 'tenant' claim": signed(claims(provider, tenant=None)),
    }
    async with gateway(provider, tmp_path / "data") as (app, http):
        for reason, token in refused.items():
            response = await post(http, token, QUERY_VIEWER)
            assert response.status_code == 401, (reason, response.text)
            [error] = response.json()["errors"]
            assert error == {"message": reason, "extensions": {"code": "UNAUTHENTICATED"}}
        # unknown kids fetched the keys again at most once (a 10 s rate limit)
        tokens = app.state.gateway.services.auth.tokens
        assert isinstance(tokens, IdentityProvider)
        assert tokens.keys.fetches <= 2
        for _ in range(5):
            response = await post(http, signed(claims(provider), "rogue"), QUERY_VIEWER)
            assert response.status_code == 401
        assert tokens.keys.fetches <= 2


async def test_unknown_kid_refreshes_are_rate_limited_and_coalesced(
    provider: OidcProvider, tmp_path: Path
) -> None:
    async with gateway(provider, tmp_path / "data") as (app, http):
        tokens = app.state.gateway.services.auth.tokens
        assert isinstance(tokens, IdentityProvider)
        rogue = signed(claims(provider), "rogue")
        answers = await asyncio.gather(*(post(http, rogue, QUERY_VIEWER) for _ in range(20)))
        assert {r.status_code for r in answers} == {401}
        assert tokens.keys.fetches == 1  # concurrent first uses share one fetch
        good = provider.token("acme-app", "read")
        assert (await data(http, good, QUERY_VIEWER))["viewer"]["tenant"] == "acme"
        assert tokens.keys.fetches == 1


async def test_provider_rotates_its_key_without_a_gateway_restart(
    provider: OidcProvider, tmp_path: Path
) -> None:
    async with gateway(provider, tmp_path / "data", oidc_jwks_refresh_seconds=1.0) as (_, http):
        before = provider.token("acme-app", "read")
        assert jwt.get_unverified_header(before)["kid"] == "rsa-1"
        assert (await data(http, before, QUERY_VIEWER))["viewer"]["tenant"] == "acme"

        provider.stop()
        provider.start(ROTATED_KEYS)
        after = provider.token("acme-app", "read")
        assert jwt.get_unverified_header(after)["kid"] == "rsa-2"
        loop = asyncio.get_running_loop()
        give_up = loop.time() + 60
        while (response := await post(http, after, QUERY_VIEWER)).status_code != 200:
            assert response.status_code == 401, response.text
            assert loop.time() < give_up, response.text
            await asyncio.sleep(0.2)  # the refresh rate limit (1 s here) lets it through
        assert response.json()["data"]["viewer"]["tenant"] == "acme"
        # tokens of the old key work while the provider still publishes it
        assert (await data(http, before, QUERY_VIEWER))["viewer"]["tenant"] == "acme"


async def test_a_tokens_scopes_limit_it_exactly_as_a_keys_would(
    provider: OidcProvider, tmp_path: Path, make_key: MakeKey
) -> None:
    read_key = await make_key("globex", "read")
    async with gateway(provider, tmp_path / "data") as (_, http):
        read_token = provider.token("globex-reader", "read")
        for credential, holder in ((read_token, "token"), (read_key, "API key")):
            assert (await data(http, credential, "{ metricNames }"))["metricNames"] == []
            response = await post(http, credential, INGEST % "nope")
            [error] = response.json()["errors"]
            assert error["message"] == f"this {holder} lacks the 'ingest' scope"
            assert error["extensions"]["code"] == "FORBIDDEN"
            rest = await http.post(
                "/analytics/metrics",
                json=[{"name": "nope", "value": 1}],
                headers={"Authorization": f"Bearer {credential}"},
            )
            assert rest.status_code == 403, rest.text
            assert rest.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        unknown_scopes = signed(claims(provider, scope="openid profile read"))
        viewer = (await data(http, unknown_scopes, QUERY_VIEWER))["viewer"]
        assert viewer["scopes"] == ["read"]  # values the gateway does not know are ignored


async def until_closed(ws: GraphQLWS) -> None:
    """Read messages (the query's `complete`, pings) until the server closes."""
    while True:
        await ws.receive(timeout=60)


async def test_websocket_with_a_token_is_closed_4401_when_it_expires(
    provider: OidcProvider, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "data", oidc_issuer=provider.issuer, oidc_audience=AUDIENCE)
    async with (
        started(create_app(settings, registry=CollectorRegistry())) as app,
        serving(app, lifespan=False) as base,
    ):
        token = provider.token("acme-brief", "read")  # lives 4 s
        expires = jwt.decode(token, options={"verify_signature": False})["exp"]
        ws = await GraphQLWS.open(f"ws://{base}/graphql", {"Authorization": f"Bearer {token}"})
        try:
            await ws.ack()
            op = await ws.subscribe(QUERY_VIEWER)
            message = await ws.next_data()
            assert message["id"] == op
            assert message["payload"]["data"]["viewer"]["keyId"] == "jwt:acme-brief"
            with pytest.raises(ConnectionClosed) as closed:
                await until_closed(ws)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4401
            assert time.time() >= expires - 1  # at expiry, not before
        finally:
            await ws.close()

        refused = await GraphQLWS.open(
            f"ws://{base}/graphql", {"Authorization": f"Bearer {token}x"}
        )
        with pytest.raises(ConnectionClosed) as rejected:
            await refused.receive(timeout=30)
        assert rejected.value.rcvd is not None
        assert rejected.value.rcvd.code == 4403


async def test_a_gateway_without_an_issuer_refuses_tokens(
    client: httpx.AsyncClient, provider: OidcProvider
) -> None:
    response = await post(client, provider.token("acme-app", "read"), QUERY_VIEWER)
    assert response.status_code == 401
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "no OIDC issuer is configured" in error["message"]


async def test_an_unreachable_provider_is_503_and_keys_still_work(
    provider: OidcProvider, tmp_path: Path, make_key: MakeKey
) -> None:
    key = await make_key("acme", "read")
    token = provider.token("acme-app", "read")
    settings = make_settings(
        tmp_path / "data", oidc_issuer=f"http://127.0.0.1:{free_port()}", oidc_audience=AUDIENCE
    )
    async with started(create_app(settings, registry=CollectorRegistry())) as app:
        transport = asgi_transport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            response = await post(http, token, QUERY_VIEWER)
            assert response.status_code == 503, response.text
            [error] = response.json()["errors"]
            assert error["message"] == "the identity provider is unavailable; try again later"
            assert error["extensions"]["code"] == "BACKEND_UNAVAILABLE"
            assert (await data(http, key, QUERY_VIEWER))["viewer"]["tenant"] == "acme"
