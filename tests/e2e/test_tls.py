"""`serve --tls-cert/--tls-key`: HTTPS and WSS with a certificate made here, TLS 1.3 only.

The gateway runs in its own process, as users run it; the certificate is
self-signed for 127.0.0.1, and clients trust exactly it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import connect

from analytics_gateway.config import Settings
from analytics_gateway.crypto.tls import server_context
from tests.servers import free_port


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def client_context(self, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.cert))
        if maximum is not None:
            context.maximum_version = maximum
        return context


def self_signed(directory: Path) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "analytics-gateway test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(directory / "cert.pem", directory / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths.key.chmod(0o600)
    return paths


def serve(data_dir: Path, port: int, *args: str) -> list[str]:
    return [
        sys.executable, "-m", "analytics_gateway", "serve", "--port", str(port),
        "--data-dir", str(data_dir), *args,
    ]  # fmt: skip


ENV = {**os.environ, "ANALYTICS_JSON_LOGS": "false", "ANALYTICS_SELF_INTERVAL_SECONDS": "0"}


@dataclass(frozen=True)
class TlsGateway:
    url: str
    port: int
    data_dir: Path
    certificate: Certificate
    log: Path


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return self_signed(tmp_path)


@pytest.fixture
def tls_gateway(tmp_path: Path, certificate: Certificate) -> Iterator[TlsGateway]:
    data_dir, port = tmp_path / "data", free_port()
    data_dir.mkdir()
    log = tmp_path / "gateway.log"
    tls = ["--tls-cert", str(certificate.cert), "--tls-key", str(certificate.key)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            serve(data_dir, port, *tls), env=ENV, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # generous: a busy machine starts slowly
        while True:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(httpx.HTTPError):
                ready = httpx.get(url + "/healthz", verify=certificate.client_context(), timeout=1)
                if ready.status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield TlsGateway(url, port, data_dir, certificate, log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_https_answers_with_hsts_and_the_start_message_says_https(tls_gateway: TlsGateway) -> None:
    response = httpx.get(
        tls_gateway.url + "/healthz", verify=tls_gateway.certificate.client_context()
    )
    assert response.status_code == 200
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")
    assert f"Dashboards: {tls_gateway.url}/" in tls_gateway.log.read_text()
    with pytest.raises(httpx.HTTPError):  # plain HTTP on the TLS port gets nothing
        httpx.get(f"http://127.0.0.1:{tls_gateway.port}/healthz", timeout=5)


def test_a_client_limited_to_tls_1_2_is_refused(tls_gateway: TlsGateway) -> None:
    context = tls_gateway.certificate.client_context(maximum=ssl.TLSVersion.TLSv1_2)
    with (
        socket.create_connection(("127.0.0.1", tls_gateway.port), timeout=10) as raw,
        pytest.raises(ssl.SSLError),
    ):
        context.wrap_socket(raw, server_hostname="127.0.0.1")
    with pytest.raises(httpx.ConnectError):
        httpx.get(tls_gateway.url + "/healthz", verify=context)
    # TLS 1.3 on the same port works
    modern = tls_gateway.certificate.client_context()
    with (
        socket.create_connection(("127.0.0.1", tls_gateway.port), timeout=10) as raw,
        modern.wrap_socket(raw, server_hostname="127.0.0.1") as wrapped,
    ):
        assert wrapped.version() == "TLSv1.3"


async def test_subscriptions_work_over_wss(tls_gateway: TlsGateway) -> None:
    created = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "analytics_gateway", "keys", "create", "--tenant", "acme",
         "--scopes", "ingest,read", "--data-dir", str(tls_gateway.data_dir)],
        capture_output=True, text=True, timeout=60, env=ENV, check=True,
    )  # fmt: skip
    key = created.stdout.strip().splitlines()[-1]
    context = tls_gateway.certificate.client_context()
    wss = f"wss://127.0.0.1:{tls_gateway.port}/graphql"
    async with connect(wss, ssl=context, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        )
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        query = 'subscription { metricPoints(name: "cpu_usage") { value } }'
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        async with httpx.AsyncClient(verify=context) as http:
            deadline = time.monotonic() + 30
            while True:  # subscribing is asynchronous: post until a point comes through
                posted = await http.post(
                    tls_gateway.url + "/analytics/metrics",
                    json=[{"name": "cpu_usage", "value": 42.0}],
                    headers={"Authorization": f"Bearer {key}"},
                )
                assert posted.status_code == 200, posted.text
                with contextlib.suppress(TimeoutError):
                    message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                    break
                assert time.monotonic() < deadline
        assert message["type"] == "next", message
        assert message["payload"]["data"]["metricPoints"] == {"value": 42.0}


def test_missing_or_unusable_files_stop_the_start_before_it_says_started(
    tmp_path: Path, certificate: Certificate
) -> None:
    port = free_port()
    missing = subprocess.run(
        serve(tmp_path / "d", port, "--tls-cert", str(tmp_path / "nope.pem"),
              "--tls-key", str(certificate.key)),
        capture_output=True, text=True, timeout=60, env=ENV, check=False,
    )  # fmt: skip
    assert missing.returncode == 2
    assert f"--tls-cert {tmp_path / 'nope.pem'}: cannot read it" in missing.stderr
    assert missing.stdout == ""
    swapped = subprocess.run(
        serve(tmp_path / "d", port, "--tls-cert", str(certificate.key),
              "--tls-key", str(certificate.cert)),
        capture_output=True, text=True, timeout=60, env=ENV, check=False,
    )  # fmt: skip
    assert swapped.returncode == 2
    assert "not a PEM certificate chain and its private key" in swapped.stderr
    assert swapped.stdout == ""
    only_cert = subprocess.run(
        serve(tmp_path / "d", port, "--tls-cert", str(certificate.cert)),
        capture_output=True, text=True, timeout=60, env=ENV, check=False,
    )  # fmt: skip
    assert only_cert.returncode == 2
    assert "TLS needs both ANALYTICS_TLS_CERT and ANALYTICS_TLS_KEY" in only_cert.stderr


def test_tls_1_2_is_allowed_only_when_asked_for(tmp_path: Path, certificate: Certificate) -> None:
    files = {"tls_cert": str(certificate.cert), "tls_key": str(certificate.key)}
    default = server_context(Settings.from_env({}, data_dir=tmp_path, **files))
    assert default is not None
    assert default.minimum_version == ssl.TLSVersion.TLSv1_3
    allowed = server_context(
        Settings.from_env({"ANALYTICS_TLS_MIN_VERSION": "1.2"}, data_dir=tmp_path, **files)
    )
    assert allowed is not None
    assert allowed.minimum_version == ssl.TLSVersion.TLSv1_2
