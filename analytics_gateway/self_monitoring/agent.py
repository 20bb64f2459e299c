"""`analytics-gateway agent`: a host's metrics pushed to a gateway, as Telegraf would.

Every interval the agent samples its host (`host.HostSampler`: the same
metric names and labels the gateway's own collector writes, so the
`gateway_health` dashboard and the health alerts cover both) and POSTs the
samples as InfluxDB line protocol to `<url>/write?precision=ms` with
`Authorization: Token <key>` (a key with the `ingest` scope, normally of the
operator tenant). The first sample is taken a second after the start, the
next ones an interval apart.

While the gateway cannot take them (down, restarting, overloaded) the
batches wait in memory, at most `MAX_PENDING` of them (the oldest are dropped
first, and that is said), and are sent again oldest first, each as the same
body, with a backoff from 1 s doubling to 60 s (or the gateway's
`Retry-After`). A body's timestamps are fixed when it is sampled, and the
gateway stores a batch sent twice once, so a retry after a lost answer does
not count twice.

What retrying cannot fix ends the agent with exit code 2 and one line saying
what is wrong: a key the gateway refuses (401), a key without the `ingest`
scope (403), an address that is no gateway (404, a redirect). Lines the
gateway rejects (400) are reported and dropped. SIGINT and SIGTERM stop it
(exit 0) after one quick last try to send what waits.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import httpx
import orjson

from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.self_monitoring.host import HostSampler, Sample

EXIT_STOPPED = 0
EXIT_UNDELIVERED = 1  # --once, and the gateway did not take the batch
EXIT_REFUSED = 2

MAX_PENDING = 1000
"""Batches kept while the gateway does not take them (about 3 hours at 10 s)."""
FIRST_SAMPLE_SECONDS = 1.0
BACKOFF_START_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 10.0
LAST_TRY_TIMEOUT_SECONDS = 2.0

Say = Callable[[str], None]


# -- line protocol ------------------------------------------------------------------------


def _escape(text: str, specials: str) -> str:
    for char in "\\" + specials:
        text = text.replace(char, "\\" + char)
    return text


def encode_line(sample: Sample, timestamp_ms: int) -> str:
    """One line: `name,tag=v,... value=<float> <ms>`; tags sorted, empty ones left out."""
    tags = "".join(
        f",{_escape(key, ',= ')}={_escape(value, ',= ')}"
        for key, value in sorted(sample.labels.items())
        if value
    )
    return f"{_escape(sample.name, ', ')}{tags} value={float(sample.value)!r} {timestamp_ms}"


def encode_body(samples: Iterable[Sample], timestamp_ms: int) -> bytes:
    return "\n".join(encode_line(s, timestamp_ms) for s in samples).encode() + b"\n"


# -- what an answer means -------------------------------------------------------------------


class Verdict(Enum):
    DELIVERED = "delivered"
    DROPPED = "dropped"  # the gateway read it and refused some lines: sending again won't help
    RETRY = "retry"
    FATAL = "fatal"


@dataclass(frozen=True)
class Answer:
    verdict: Verdict
    message: str = ""
    retry_after: float | None = None


def _their_words(body: bytes) -> str:
    """The gateway's own message from an error body, if it has one."""
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    if isinstance(parsed, dict):
        errors = parsed.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", ""))
        return str(parsed.get("message", ""))
    return ""


def judge(status: int, body: bytes, headers: Mapping[str, str], url: str) -> Answer:
    """What the agent does about an answer of the gateway's `/write`."""
    words = _their_words(body)
    said = f": {words}" if words else ""
    if 200 <= status < 300:
        return Answer(Verdict.DELIVERED)
    if status == 401:
        return Answer(Verdict.FATAL, f"the gateway refused the key (401{said}); check --key")
    if status == 403:
        return Answer(
            Verdict.FATAL,
            f"the key may not write points (403{said}); use a key with the ingest scope "
            "(analytics-gateway keys create --tenant <tenant> --scopes ingest)",
        )
    if status == 404:
        return Answer(Verdict.FATAL, f"{url} answers 404: is --url the gateway's address?")
    if 300 <= status < 400:
        where = headers.get("location", "elsewhere")
        return Answer(Verdict.FATAL, f"{url} redirects to {where}: give that address as --url")
    if status in (400, 413, 422):
        return Answer(Verdict.DROPPED, f"the gateway refused points ({status}{said})")
    retry_after: float | None = None
    raw = headers.get("retry-after")
    if raw is not None and raw.strip().isdigit():
        retry_after = float(raw.strip())
    return Answer(Verdict.RETRY, f"the gateway answered {status}{said}", retry_after)


# -- the agent --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentOptions:
    url: str
    key: str
    interval_seconds: float = 10.0
    once: bool = False
    hostname: str = ""
    disk_path: Path = Path("/")
    per_cpu: bool = False

    @property
    def write_url(self) -> str:
        return self.url.rstrip("/") + "/write"


def options_from(args: argparse.Namespace) -> AgentOptions:
    """Checked options of `analytics-gateway agent`; ValueError says what is wrong."""
    url = str(args.url)
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"--url {url!r}: give the gateway's http:// or https:// address")
    if not args.key:
        raise ValueError("--key: give an API key with the ingest scope")
    interval = parse_duration_ms(args.interval, field="--interval") / 1000
    if interval < 1:
        raise ValueError("--interval: at least 1s")
    return AgentOptions(
        url=url,
        key=str(args.key),
        interval_seconds=interval,
        once=bool(args.once),
        hostname=args.hostname or socket.gethostname(),
        disk_path=Path(args.disk_path),
        per_cpu=bool(args.per_cpu),
    )


class Agent:
    def __init__(
        self,
        options: AgentOptions,
        client: httpx.Client,
        stop: threading.Event,
        say: Say,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self._client = client
        self._stop = stop
        self._say = say
        self._monotonic = monotonic
        self._sampler = HostSampler(
            options.hostname, options.disk_path, per_cpu=options.per_cpu, monotonic=monotonic
        )
        self.pending: deque[bytes] = deque()
        self.delivered = 0
        self._failing = False

    def run(self) -> int:
        self._sampler.prime()
        self._say(
            f"agent: {self.options.hostname}'s metrics to {self.options.write_url}"
            + ("" if self.options.once else f" every {self.options.interval_seconds:g}s")
        )
        if self.options.once:
            return self._run_once()
        next_sample = self._monotonic() + min(FIRST_SAMPLE_SECONDS, self.options.interval_seconds)
        next_send = 0.0
        backoff = BACKOFF_START_SECONDS
        while not self._stop.is_set():
            now = self._monotonic()
            if now >= next_sample:
                self._queue(self._sample())
                next_sample = _next_slot(next_sample, self.options.interval_seconds, now)
            if self.pending and now >= next_send:
                answer = self._flush(REQUEST_TIMEOUT_SECONDS)
                if answer.verdict is Verdict.FATAL:
                    self._say(f"agent: {answer.message}")
                    return EXIT_REFUSED
                if answer.verdict is Verdict.RETRY:
                    wait = answer.retry_after if answer.retry_after is not None else backoff
                    backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
                    next_send = self._monotonic() + wait
                    self._say(
                        f"agent: {answer.message}; {len(self.pending)} batch(es) wait, "
                        f"retrying in {wait:g}s"
                    )
                else:
                    backoff = BACKOFF_START_SECONDS
            wake = next_sample if not self.pending else min(next_sample, next_send)
            self._stop.wait(max(0.0, wake - self._monotonic()))
        if self.pending:  # stopping: one quick try for what waits, no retries
            self._flush(LAST_TRY_TIMEOUT_SECONDS)
            if self.pending:
                self._say(f"agent: stopped with {len(self.pending)} batch(es) not delivered")
        self._say(f"agent: stopped after delivering {self.delivered} batch(es)")
        return EXIT_STOPPED

    def _run_once(self) -> int:
        if self._stop.wait(FIRST_SAMPLE_SECONDS):  # rates need a span of time
            return EXIT_STOPPED
        self._queue(self._sample())
        answer = self._flush(REQUEST_TIMEOUT_SECONDS)
        if answer.verdict is Verdict.FATAL:
            self._say(f"agent: {answer.message}")
            return EXIT_REFUSED
        if answer.verdict is Verdict.DELIVERED:
            return EXIT_STOPPED
        self._say(f"agent: not delivered: {answer.message}")
        return EXIT_UNDELIVERED

    def _sample(self) -> bytes:
        return encode_body(self._sampler.sample(), int(time.time() * 1000))

    def _queue(self, body: bytes) -> None:
        self.pending.append(body)
        if len(self.pending) > MAX_PENDING:
            self.pending.popleft()
            self._say(f"agent: more than {MAX_PENDING} batches wait; the oldest was dropped")

    def _flush(self, timeout: float) -> Answer:
        """Send what waits, oldest first, until all is sent or the gateway does not take it."""
        answer = Answer(Verdict.DELIVERED)
        while self.pending:
            answer = self._send(self.pending[0], timeout)
            if answer.verdict in (Verdict.RETRY, Verdict.FATAL):
                self._failing = True
                return answer
            self.pending.popleft()
            if answer.verdict is Verdict.DROPPED:
                self._say(f"agent: {answer.message}")
                continue
            self.delivered += 1
            if self._failing or self.delivered == 1:
                self._say(f"agent: delivered to {self.options.write_url}")
                self._failing = False
        return answer

    def _send(self, body: bytes, timeout: float) -> Answer:
        try:
            response = self._client.post(
                self.options.write_url,
                params={"precision": "ms"},
                content=body,
                headers={
                    "Authorization": f"Token {self.options.key}",
                    "Content-Type": "text/plain; charset=utf-8",
                },
                timeout=timeout,
            )
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            return Answer(Verdict.RETRY, f"the gateway does not answer ({reason})")
        return judge(
            response.status_code, response.content, response.headers, self.options.write_url
        )


def _next_slot(slot: float, interval: float, now: float) -> float:
    """The first slot after `now` (slots missed while sending are skipped, not made up)."""
    slot += interval
    if slot <= now:
        slot += ((now - slot) // interval + 1) * interval
    return slot


@contextlib.contextmanager
def _stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop` while inside (the loop notices within its wait)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """The `agent` command: runs until SIGINT or SIGTERM (or once with --once)."""
    options = options_from(args)
    stream = out or sys.stderr

    def say(text: str) -> None:
        print(text, file=stream, flush=True)

    stop = threading.Event()
    with _stopped_by_signals(stop), httpx.Client() as client:
        return Agent(options, client, stop, say).run()
