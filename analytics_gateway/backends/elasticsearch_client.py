"""An `AsyncElasticsearch` client built from a store URL.

URL forms (the path, if any, is the index prefix; default `analytics`):

    elasticsearch://[user:password@]host[:port][/index_prefix]          HTTP
    elasticsearch+https://[user:password@]host[:port][/index_prefix]    HTTPS

Media types: the 8.x and 9.x clients send `application/vnd.elasticsearch+json;
compatible-with=<client major>`. OpenSearch-compatible servers (and
`osmem-server`, which the tests run against) answer those with 406, and an
Elasticsearch server one major older than the client refuses them too. The
node below sends plain `application/json` / `application/x-ndjson`, which every
Elasticsearch since 7 reads as its own current API; the endpoints this backend
uses (`_bulk`, `_search`, `_msearch`, `_index_template`, `_cat/indices`, index
delete) have the same shape in 7.8 and later. The client's product check is kept:
it only needs the `X-Elastic-Product: Elasticsearch` response header, which
Elasticsearch and osmem-server both send.

Retries: one, on a connection error only (a pooled connection the server
closed); never on a timeout or an error status, so a stalled server costs one
timeout.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlparse

from elastic_transport import AiohttpHttpNode, HttpHeaders
from elastic_transport._node import NodeApiResponse
from elastic_transport.client_utils import DEFAULT, DefaultType
from elasticsearch import AsyncElasticsearch

SCHEMES = {"elasticsearch": "http", "elasticsearch+https": "https"}
DEFAULT_PREFIX = "analytics"
DEFAULT_PORT = 9200
_PREFIX_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,99}$")
_COMPAT_RE = re.compile(r"application/vnd\.elasticsearch\+([\w-]+); ?compatible-with=\d+")


def _plain(headers: HttpHeaders | None) -> HttpHeaders | None:
    if headers is None:
        return None
    plain = headers.copy()
    for name in ("accept", "content-type"):
        value = plain.get(name)
        if value:
            plain[name] = _COMPAT_RE.sub(r"application/\1", value)
    return plain


class PlainJsonNode(AiohttpHttpNode):
    """A node that sends plain JSON media types."""

    # async over BaseNode's sync signature, as AiohttpHttpNode itself does
    async def perform_request(  # type: ignore[override]
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: DefaultType | float | None = DEFAULT,
    ) -> NodeApiResponse:
        return await super().perform_request(
            method, target, body=body, headers=_plain(headers), request_timeout=request_timeout
        )


def index_prefix(url: str) -> str:
    """The index prefix in the URL's path: lowercase letters, digits and `_`.

    No `-`, so one deployment's `<prefix>-events-*` never matches another's indices.
    """
    prefix = urlparse(url).path.strip("/") or DEFAULT_PREFIX
    if not _PREFIX_RE.match(prefix):
        raise ValueError(
            f"ANALYTICS_EVENTS_URL: index prefix {prefix!r} must be lowercase letters, "
            "digits and '_' (at most 100 characters)"
        )
    return prefix


def node_of(url: str) -> tuple[str, tuple[str, str] | None]:
    """The node URL (`http(s)://host:port`) and basic-auth credentials in a store URL."""
    parsed = urlparse(url)
    scheme = SCHEMES.get(parsed.scheme)
    if scheme is None or not parsed.hostname:
        raise ValueError(
            "ANALYTICS_EVENTS_URL: expected elasticsearch://[user:password@]host[:port][/prefix] "
            "or elasticsearch+https://..."
        )
    host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
    auth = None
    if parsed.username is not None:
        auth = (unquote(parsed.username), unquote(parsed.password or ""))
    return f"{scheme}://{host}:{parsed.port or DEFAULT_PORT}", auth


def build_client(url: str, *, timeout_seconds: float) -> AsyncElasticsearch:
    node, auth = node_of(url)
    return AsyncElasticsearch(
        node,
        basic_auth=auth,
        node_class=PlainJsonNode,
        request_timeout=timeout_seconds,
        max_retries=1,
        retry_on_timeout=False,
        retry_on_status=(),
    )
