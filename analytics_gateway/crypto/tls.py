"""The listeners' TLS context: certificate and key checked before the gateway says it started.

TLS 1.3 is the minimum unless the operator allows 1.2 (`ANALYTICS_TLS_MIN_VERSION=1.2`),
for clients that cannot do better. HSTS goes with every response served over TLS
(`http.middleware.SecurityHeaders`).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from analytics_gateway.config import Settings

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class TlsError(ValueError):
    """A certificate or key the listeners cannot use; says which file and why."""


def server_context(settings: Settings) -> ssl.SSLContext | None:
    """None without `tls_cert`; else a context holding the certificate and key."""
    if not settings.tls_cert:
        return None
    for option, path in (("--tls-cert", settings.tls_cert), ("--tls-key", settings.tls_key)):
        try:
            Path(path).read_bytes()
        except OSError as exc:
            raise TlsError(f"{option} {path}: cannot read it ({exc.strerror or exc})") from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = VERSIONS[settings.tls_min_version]
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(
            f"--tls-cert {settings.tls_cert} / --tls-key {settings.tls_key}: not a PEM "
            f"certificate chain and its private key ({getattr(exc, 'reason', None) or exc})"
        ) from None
    return context
