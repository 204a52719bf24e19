"""Polite HTTP fetching for site sync: robots.txt, a per-host delay, a named User-Agent, timeouts, bounded
redirects, a size cap and conditional GET."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urldefrag, urlsplit

import httpx
from protego import Protego

USER_AGENT = "BilimAssistantSync/1.0 (+the Kyrgyz Ministry of Education and Science's document assistant)"
_ROBOTS_AGENT = "BilimAssistantSync"
DISALLOWED = "disallowed by robots.txt"


@dataclass(frozen=True)
class FetchPolicy:
    """How politely and how far one fetcher goes."""

    user_agent: str = USER_AGENT
    timeout: float = 15.0  # seconds: connecting, and between any two reads, and for a whole response
    delay: float = 1.0  # seconds between two requests to one host (robots.txt's Crawl-delay when longer)
    max_bytes: int = 20 * 1024 * 1024  # one response's body
    max_redirects: int = 5


@dataclass(frozen=True)
class Fetched:
    """A response worth reading: 200 with its body, or 304 (unchanged since the validators sent)."""

    url: str  # after redirects, without its fragment
    status: int
    body: bytes
    content_type: str  # the media type, lower case, without parameters
    charset: str | None
    etag: str | None
    last_modified: str | None


class FetchFailed(Exception):
    """A URL that gave nothing to read, with why; `gone` when the server says it no longer exists (404, 410)."""

    def __init__(self, url: str, reason: str, *, status: int | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status

    @property
    def gone(self) -> bool:
        """The server says the URL no longer exists."""
        return self.status in (404, 410)


def without_fragment(url: str) -> str:
    """The URL a page is known by: its #fragment names a place inside it, not another page."""
    return urldefrag(url)[0]


class Fetcher:
    """Fetches URLs one host politely at a time; robots.txt is read once per host and obeyed."""

    def __init__(
        self,
        policy: FetchPolicy = FetchPolicy(),
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy
        self._client = httpx.Client(
            headers={"User-Agent": policy.user_agent},
            timeout=httpx.Timeout(policy.timeout),
            follow_redirects=True,
            max_redirects=policy.max_redirects,
            transport=transport,
        )
        self._clock = clock
        self._sleep = sleep
        self._robots: dict[str, Protego | str] = {}  # a host's rules, or why its robots.txt could not be read
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def refusal(self, url: str) -> str | None:
        """Why robots.txt keeps this fetcher from the URL (an unreachable robots.txt allows nothing), or None."""
        robots = self._robots_of(url)
        if isinstance(robots, str):
            return f"robots.txt unreadable ({robots}): nothing is fetched from the host"
        return None if robots.can_fetch(url, _ROBOTS_AGENT) else DISALLOWED

    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """GET a URL robots.txt allows, conditionally when validators are given; raises `FetchFailed`."""
        refused = self.refusal(url)
        if refused is not None:
            raise FetchFailed(url, refused)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._get(url, headers)

    def _get(self, url: str, headers: dict[str, str]) -> Fetched:
        host = _host(url)
        self._wait_turn(host)
        deadline = self._clock() + self.policy.timeout
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                final = without_fragment(str(response.url))
                if final != without_fragment(url) and _host(final) != host and self.refusal(final):
                    raise FetchFailed(url, f"redirected to {final}, which robots.txt disallows")
                if response.status_code == 304:
                    return _fetched(final, response, b"")
                if response.status_code != 200:
                    raise FetchFailed(url, f"HTTP {response.status_code}", status=response.status_code)
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > self.policy.max_bytes:
                    raise FetchFailed(url, f"larger than {self.policy.max_bytes} bytes ({declared} declared)")
                body = bytearray()
                for part in response.iter_bytes():
                    body.extend(part)
                    if len(body) > self.policy.max_bytes:
                        raise FetchFailed(url, f"larger than {self.policy.max_bytes} bytes")
                    # A server that trickles bytes never trips the read timeout: the whole response has one too.
                    if self._clock() > deadline:
                        raise FetchFailed(url, f"slower than {self.policy.timeout:g} s")
                return _fetched(final, response, bytes(body))
        except httpx.TooManyRedirects:
            raise FetchFailed(url, f"more than {self.policy.max_redirects} redirects (a loop?)") from None
        except httpx.TimeoutException:
            raise FetchFailed(url, f"no answer within {self.policy.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise FetchFailed(url, f"cannot connect: {type(exc).__name__}: {exc}") from None
        finally:
            with self._lock:
                self._last[host] = self._clock()

    def _wait_turn(self, host: str) -> None:
        """Sleep until this host's delay has passed since the last request to it ended."""
        robots = self._robots.get(host)
        crawl_delay = robots.crawl_delay(_ROBOTS_AGENT) if isinstance(robots, Protego) else None
        delay = max(self.policy.delay, float(crawl_delay or 0.0))
        with self._lock:
            last = self._last.get(host)
        if last is not None:
            wait = last + delay - self._clock()
            if wait > 0:
                self._sleep(wait)

    def _robots_of(self, url: str) -> Protego | str:
        """The host's parsed robots.txt (an empty one when it has none: 4xx), or why it cannot be read."""
        host = _host(url)
        if host in self._robots:
            return self._robots[host]
        parts = urlsplit(url)
        robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        parsed: Protego | str
        try:
            fetched = self._get(robots_url, {})
            parsed = Protego.parse(fetched.body.decode("utf-8", errors="replace"))
        except FetchFailed as exc:
            # RFC 9309: robots.txt missing (4xx) allows everything; unreachable (5xx, timeout) allows nothing.
            missing = exc.status is not None and 400 <= exc.status < 500
            parsed = Protego.parse("") if missing else exc.reason
        self._robots[host] = parsed
        return parsed


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


def _fetched(url: str, response: httpx.Response, body: bytes) -> Fetched:
    media, _, params = response.headers.get("Content-Type", "").partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip().strip('"').lower()
    return Fetched(
        url=url,
        status=response.status_code,
        body=body,
        content_type=media.strip().lower(),
        charset=charset,
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
    )
