"""Admission at the door, through real sockets, against the served API and the same API behind compose's proxy
(Debian's nginx running deploy/nginx.conf): a body without a key, or over its route's cap, is refused before it is
read; idle and half-sent connections are closed, and thousands of them leave /healthz answering."""

from __future__ import annotations

import json
import resource
import select
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.servers import ADMIN_KEY, ASK_KEY, free_port, serving
from tests.support import ROOT, cli_env

pytestmark = pytest.mark.slow

NGINX_CONF = ROOT / "deploy" / "nginx.conf"
HEADER_TIMEOUT = 3  # the served API's, short here so the test waits little (nginx.conf's own: 10 s)
BODY_TIMEOUT = 3
UPLOAD_BYTES = 300_000  # per file; a whole upload request may carry 5 × this
GIB = 1 << 30
MIB = 1 << 20
MAX_CONNECTIONS = 200  # the served API's per worker, low so the cap is met by a few hundred connections
FILE_LIMIT_BEFORE = 1024  # the soft limit of open files the server starts with, as on most machines
ATTACK_CONNECTIONS = 10_000


@dataclass
class Door:
    """Where requests go in: the served API (`pid` its process) or the proxy in front of it."""

    host: str
    port: int
    pid: int
    header_timeout: float  # within which a half-sent request is closed
    body_timeout: float  # within which a stalled body is closed

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextmanager
def soft_file_limit(soft: int) -> Iterator[None]:
    """This process's soft limit of open files set to `soft` (so a process started meanwhile inherits it)."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, before[1]), before[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    """`python -m assistant serve` over an empty store, with keys, short header and body timeouts and a low
    connection cap, started with the usual soft limit of 1,024 open files."""
    workdir = tmp_path_factory.mktemp("admission")
    port = free_port()
    command = [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--data-dir", str(workdir / "store")]
    env = cli_env(
        ANONYMIZED_TELEMETRY="False",
        BILIM_API_KEYS=ASK_KEY,
        BILIM_ADMIN_KEYS=ADMIN_KEY,
        BILIM_RATE_LIMIT="1000/minute",
        BILIM_MAX_UPLOAD_BYTES=str(UPLOAD_BYTES),
        BILIM_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
        BILIM_BODY_TIMEOUT=str(BODY_TIMEOUT),
        BILIM_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    )
    url = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        with soft_file_limit(FILE_LIMIT_BEFORE):
            process = stack.enter_context(serving(command, workdir / "api.log", url + "/healthz", env))
        yield Door("127.0.0.1", port, process.pid, HEADER_TIMEOUT, BODY_TIMEOUT)


def proxy_command(prefix: Path, config: Path) -> list[str]:
    """compose.yaml's `proxy` command, run here: Debian's nginx, this prefix and this copy of the config."""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    proxy = compose["services"]["proxy"]
    assert "./deploy/nginx.conf:/etc/bilim/nginx.conf:ro" in proxy["volumes"]  # the file this test runs
    command = list(proxy["command"])
    assert command[0] == "nginx"
    command[0] = shutil.which("nginx") or "/usr/sbin/nginx"
    command[command.index("-p") + 1] = f"{prefix}/"
    command[command.index("-c") + 1] = str(config)
    return command


@pytest.fixture(scope="module")
def proxy(api: Door) -> Iterator[Door]:
    """Debian's nginx with deploy/nginx.conf in front of the served API (only the upstream and port replaced)."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is missing: `make setup` installs Debian's nginx-light")
    prefix = Path(tempfile.mkdtemp(prefix="bilim-nginx-"))
    prefix.chmod(0o755)  # nginx's workers run as another user
    port = free_port()
    text = NGINX_CONF.read_text(encoding="utf-8")
    assert text.count("server api:8000;") == 1 and text.count("listen 8000;") == 1
    config = prefix / "nginx.conf"
    config.write_text(
        text.replace("server api:8000;", f"server 127.0.0.1:{api.port};").replace(
            "listen 8000;", f"listen 127.0.0.1:{port};"
        ),
        encoding="utf-8",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with serving(proxy_command(prefix, config), prefix / "nginx.log", url + "/healthz", cli_env()) as process:
            yield Door("127.0.0.1", port, process.pid, 10, 30)  # nginx.conf's client_header/body_timeout
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture(params=["served", "proxied"])
def door(request: pytest.FixtureRequest, api: Door) -> Door:
    """Each test of connections runs against the bare API and against the proxy."""
    return api if request.param == "served" else request.getfixturevalue("proxy")


def rss(pid: int) -> int:
    """Resident memory of a process and its children (the workers), in bytes, from /proc."""
    pids = {pid}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                pids.add(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    total = 0
    for each in pids:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        total += next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
    return total


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, lower-cased headers and body of one HTTP/1.1 response (the body by its Content-Length)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body[: int(headers.get("content-length", len(body)))]


def complete(raw: bytes) -> bool:
    """Whether `raw` holds a whole response with a Content-Length."""
    if b"\r\n\r\n" not in raw:
        return False
    _, headers, body = parse_response(raw)
    return "content-length" in headers and len(body) >= int(headers["content-length"])


@dataclass
class Sent:
    """What streaming a body got: the response, how many body bytes went out, and how long it took."""

    status: int
    headers: dict[str, str]
    body: bytes
    sent: int
    seconds: float

    def problem(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        assert set(parsed) == {"status", "code", "detail"} and parsed["status"] == self.status
        return parsed


def stream_body(
    door: Door,
    path: str,
    headers: dict[str, str],
    total: int,
    chunked: bool,
    block: bytes = b"x" * MIB,
    lead: bytes = b"",
) -> Sent:
    """Send a request whose body is `lead` then blocks up to `total` bytes, until the server answers (or the body is
    sent); read the answer. Content-Length declares `total` unless the body is chunked."""
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(total)}
    lines = [f"POST {path} HTTP/1.1", f"Host: {door.host}"] + [f"{k}: {v}" for k, v in {**headers, **framing}.items()]
    started = time.monotonic()
    sock = socket.create_connection((door.host, door.port), timeout=30)
    raw, sent = b"", 0
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        if lead:
            sock.sendall(f"{len(lead):x}\r\n".encode() + lead + b"\r\n" if chunked else lead)
            sent += len(lead)
        frame = f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block
        pending = b""
        while not complete(raw) and time.monotonic() - started < 300:
            readable, writable, _ = select.select([sock], [sock] if sent < total or pending else [], [], 5)
            if readable:
                data = sock.recv(65536)
                if not data:
                    break
                raw += data
                continue
            if writable:
                if not pending:
                    pending, sent = frame, sent + len(block)
                try:
                    pending = pending[sock.send(pending) :]
                except OSError:  # the server closed: its answer, if any, is in the socket
                    break
        sock.settimeout(5)
        while not complete(raw):
            try:
                data = sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            raw += data
    finally:
        sock.close()
    assert raw, f"no answer after {sent} bytes"
    status, response_headers, body = parse_response(raw)
    return Sent(status, response_headers, body, sent, time.monotonic() - started)


# -- request bodies ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_4_gb_body_without_a_key_is_refused_before_it_is_read(api: Door, chunked: bool) -> None:
    before = rss(api.pid)
    json_headers = {"Content-Type": "application/json"}
    refused = stream_body(api, "/v1/ask", json_headers, 4 * GIB, chunked)
    grown = rss(api.pid) - before
    assert refused.status == 401 and refused.problem()["code"] == "unauthorized"
    assert refused.headers.get("connection") == "close"  # the rest of the body is never read
    assert refused.sent < 256 * MIB, f"{refused.sent} bytes went out before the refusal"
    assert grown < 50 * MIB, f"the server grew by {grown / MIB:.0f} MB"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_cap_with_a_valid_key_is_413_while_it_arrives(api: Door, chunked: bool) -> None:
    before = rss(api.pid)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {ASK_KEY}"}
    refused = stream_body(api, "/v1/ask", headers, 4 * GIB, chunked, block=b"x" * 16384)
    grown = rss(api.pid) - before
    problem = refused.problem()
    assert refused.status == 413 and problem["code"] == "payload_too_large" and "65536 bytes" in problem["detail"]
    assert refused.headers.get("connection") == "close"
    assert refused.sent < 64 * MIB and grown < 50 * MIB


def test_an_upload_over_the_request_cap_is_413_and_an_asking_key_403_before_the_body(api: Door) -> None:
    multipart = {"Content-Type": "multipart/form-data; boundary=b"}
    admin = {**multipart, "Authorization": f"Bearer {ADMIN_KEY}"}
    part = (
        b'--b\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n'
    )
    too_large = stream_body(api, "/v1/documents", admin, 4 * GIB, chunked=True, block=b"x" * 65536, lead=part)
    assert too_large.status == 413 and f"{5 * UPLOAD_BYTES} bytes" in too_large.problem()["detail"]
    assert too_large.sent < 64 * MIB
    asking = {**multipart, "Authorization": f"Bearer {ASK_KEY}"}
    forbidden = stream_body(api, "/v1/documents", asking, 4 * GIB, chunked=False)
    assert forbidden.status == 403 and forbidden.problem()["code"] == "forbidden"
    assert forbidden.sent < 256 * MIB


def test_a_body_within_the_cap_is_read_and_the_connection_kept(api: Door) -> None:
    with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {ASK_KEY}"}, timeout=30) as client:
        comment = "ы" * 2000  # the longest comment, every character escaped: ~12 KB of JSON
        body = json.dumps({"answer_id": "unknown", "rating": "up", "comment": comment})
        for _ in range(2):  # the same kept-alive connection, twice
            response = client.post("/v1/feedback", content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 404 and response.json()["code"] == "not_found"
            assert response.headers.get("connection") != "close"


def test_the_proxy_refuses_a_4_gb_body_at_once(proxy: Door) -> None:
    refused = stream_body(proxy, "/v1/ask", {"Content-Type": "application/json"}, 4 * GIB, chunked=False)
    assert refused.status == 413 and refused.problem()["code"] == "payload_too_large"
    assert refused.sent < 256 * MIB


# -- connections -------------------------------------------------------------------------------------------


PARTIAL = b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Slow: "


def closed_by_server(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes this connection within `seconds` (anything it says first is read and ignored)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], left)
        if readable:
            try:
                if not sock.recv(65536):
                    return True
            except OSError:
                return True
    return False


def test_idle_half_sent_and_stalled_connections_are_closed(door: Door) -> None:
    idle = [socket.create_connection((door.host, door.port)) for _ in range(20)]
    partial = [socket.create_connection((door.host, door.port)) for _ in range(20)]
    stalled = [socket.create_connection((door.host, door.port)) for _ in range(5)]
    try:
        for sock in partial:
            sock.sendall(PARTIAL)
        for sock in stalled:  # a body that stops half-way
            sock.sendall(
                b"POST /v1/feedback HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {ASK_KEY}\r\nContent-Length: 100\r\n\r\n".encode()
                + b'{"answer_id": '
            )
        time.sleep(door.header_timeout / 2)
        for sock in partial:  # still trickling: a deadline, not an idle timeout, must stop it
            sock.sendall(b"x")
        assert all(closed_by_server(sock, door.header_timeout + 10) for sock in idle + partial)
        assert all(closed_by_server(sock, door.body_timeout + 10) for sock in stalled)
    finally:
        for sock in idle + partial + stalled:
            sock.close()


def test_past_the_connection_cap_the_longest_waiting_connections_make_room(api: Door) -> None:
    socks = [socket.create_connection((api.host, api.port)) for _ in range(2 * MAX_CONNECTIONS)]
    try:
        # Well within the header timeout: the first half made room for the second, which is still open.
        time.sleep(0.5)
        readable, _, _ = select.select(socks, [], [], 0)
        closed = [sock in readable and not sock.recv(1) for sock in socks]
        assert sum(closed[: MAX_CONNECTIONS // 2]) == MAX_CONNECTIONS // 2, sum(closed)
        assert not any(closed[-MAX_CONNECTIONS // 2 :])
        assert httpx.get(f"{api.url}/healthz", timeout=5).status_code == 200
    finally:
        for sock in socks:
            sock.close()


def open_attack(door: Door, count: int) -> list[socket.socket]:
    """`count` connections, every other one having sent half a request line and headers."""
    socks, failures = [], 0
    for i in range(count):
        sock = socket.socket()
        sock.settimeout(1)
        try:
            sock.connect((door.host, door.port))
            if i % 2:
                sock.sendall(PARTIAL)
        except OSError:  # refused, reset or not accepted: the server is out of room (the /healthz check judges)
            sock.close()
            failures += 1
            if failures > 50:
                break
            continue
        socks.append(sock)
    return socks


def test_10000_idle_or_half_sent_connections_leave_healthz_answering_within_1_s(door: Door) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    count = min(ATTACK_CONNECTIONS, hard - 200)  # the machine's hard limit of open files (20,000 here) allows it
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks: list[socket.socket] = []
    try:
        socks = open_attack(door, count)
        for _ in range(3):
            started = time.monotonic()
            response = httpx.get(f"{door.url}/healthz", timeout=5)
            took = time.monotonic() - started
            assert response.status_code == 200 and took < 1.0, (response.status_code, took)
        assert len(socks) >= 0.95 * count  # the attack did open them (the server closes them later)
    finally:
        for sock in socks:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
