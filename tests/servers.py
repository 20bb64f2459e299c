"""Real servers for tests: started on free loopback ports in temp dirs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


class ServerProcess:
    """A test server in its own process that a test can freeze (SIGSTOP), thaw and stop."""

    process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        """Terminate (thawed first: a frozen process cannot exit), killing it after 15 s."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def pause(self) -> None:
        """Stop the process, and return once the kernel says it is stopped: a signal
        is delivered when the target is next scheduled, which on a busy machine is
        late enough for a request sent right after to be answered."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        stat = Path(f"/proc/{self.process.pid}/stat")
        deadline = time.monotonic() + 30
        while stat.read_text().rpartition(")")[2].split()[0] not in {"T", "t"}:
            assert time.monotonic() < deadline, "the server did not stop"
            time.sleep(0.005)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


class RedisServer(ServerProcess):
    """A real `redis-server` that a test can stop and start again on the same port;
    `persistent` keeps its data across that (an append-only file, fsynced on every
    write), as production Redis does."""

    def __init__(self, workdir: Path, *, persistent: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; run the README's test command")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.workdir),
                "--save",
                "",
                "--appendonly",
                "yes" if self.persistent else "no",
                "--appendfsync",
                "always",
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)


class GatewayProcess:
    """`python -m analytics_gateway serve` in its own process, as users run it."""

    def __init__(self, data_dir: Path, env: Mapping[str, str]) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "gateway.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *extra: str) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "analytics_gateway",
                    "serve",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                    *extra,
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120  # generous: a busy machine starts slowly
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(self.log.read_text())

    def wait_ready(self, deadline_seconds: float = 300.0) -> None:
        """Until `/readyz` says ready (generous: a cold ML start on a busy machine)."""
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            assert self.process is not None
            assert self.process.poll() is None, self.log.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError(self.log.read_text())

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


@contextlib.contextmanager
def redis_server(workdir: Path, *, persistent: bool = False) -> Iterator[RedisServer]:
    server = RedisServer(workdir, persistent=persistent)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None:
            server.resume()
        server.stop()


OIDC_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "oidc"


class OidcProvider(ServerProcess):
    """`oidc-provider` (npm, a certified OpenID provider) run by `fixtures/oidc/server.js`
    on a free loopback port, issuing JWT access tokens for `audience` to its
    client_credentials clients. Its signing keys are the private JWKS given to
    `start`, so a test rotates them by starting it again with another set. With
    `ui_url` (the gateway's web UI), its public client `gateway-ui` signs users in
    from that page with the authorization code grant and PKCE."""

    def __init__(self, workdir: Path, audience: str, ui_url: str = "") -> None:
        node = shutil.which("node")
        if node is None or not (OIDC_FIXTURE / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError(
                "oidc-provider is not installed: npm ci --prefix tests/fixtures/oidc"
            )
        self.node = node
        self.workdir = workdir
        self.audience = audience
        self.ui_url = ui_url
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, jwks: Mapping[str, object]) -> None:
        """Start on this provider's port, signing with the first RSA key of `jwks`."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        keys = self.workdir / "jwks.json"
        keys.write_text(json.dumps(jwks))
        with (self.workdir / "oidc-provider.log").open("ab") as log:
            self.process = subprocess.Popen(
                [self.node, "server.js", str(self.port), str(keys), self.audience]
                + ([self.ui_url] if self.ui_url else []),
                cwd=OIDC_FIXTURE,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60  # generous: node starts slowly on a busy machine
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.workdir / "oidc-provider.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                discovery = httpx.get(self.issuer + "/.well-known/openid-configuration", timeout=1)
                if discovery.status_code == 200:
                    return
            time.sleep(0.05)
        raise TimeoutError((self.workdir / "oidc-provider.log").read_text())

    def token(self, client_id: str, scope: str) -> str:
        """An access token from the client_credentials grant (secret: `<id>-secret`)."""
        response = httpx.post(
            self.issuer + "/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": f"{client_id}-secret",
                "scope": scope,
            },
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


@contextlib.contextmanager
def oidc_provider(
    workdir: Path, audience: str, jwks: Mapping[str, object]
) -> Iterator[OidcProvider]:
    provider = OidcProvider(workdir, audience)
    provider.start(jwks)
    try:
        yield provider
    finally:
        provider.stop()
