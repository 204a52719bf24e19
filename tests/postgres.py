"""A throw-away PostgreSQL cluster for the tests: Debian's server binaries, run as the postgres user on loopback."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

INSTALL_HINT = "PostgreSQL's server is missing: `make setup` installs Debian's postgresql package"


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian's layout), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    """Run as the postgres user when root (the server refuses to run as root)."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class Cluster:
    """A running throw-away cluster: the postgresql:// URL of its `bilim` database, and its server."""

    url: str
    server: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop the server (a fast shutdown: open connections are cut); again is a no-op."""
        if self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()


@contextmanager
def postgres_cluster() -> Iterator[Cluster]:
    """Start a fresh cluster (fsync off: it is thrown away); stopped and deleted at the end."""
    bindir = server_binaries()
    if bindir is None:
        raise RuntimeError(INSTALL_HINT)
    root = Path(tempfile.mkdtemp(prefix="bilim-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    subprocess.run(
        _as_postgres(
            [str(bindir / "initdb"), "-D", str(data), "-U", "bilim", "-A", "trust", "-E", "UTF8", "--no-sync"]
        ),
        check=True,
        capture_output=True,
    )
    options = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": str(sockets),
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "300",
    }
    log = root / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            _as_postgres([str(bindir / "postgres"), "-D", str(data), *(f"--{k}={v}" for k, v in options.items())]),
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    cluster = Cluster(f"postgresql://bilim@127.0.0.1:{port}/bilim", server)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(f"postgresql://bilim@127.0.0.1:{port}/postgres", autocommit=True) as db:
                    db.execute("CREATE DATABASE bilim")
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(url: str, name: str) -> str:
    """A new empty database beside the cluster's `bilim` one; its URL."""
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        db.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name
