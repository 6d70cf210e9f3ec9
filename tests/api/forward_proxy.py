"""A forward proxy on loopback for the tests: the corporate proxy a CI
runner's only way out goes through (a fake at a true boundary).

Every plain-HTTP request it is sent (``POST http://portal.test:1234/api``,
absolute form) goes to one upstream server, the sandbox, whatever host the
request names: a name that resolves nowhere reaches the sandbox only
through this proxy. It counts what it was sent, asks for Basic credentials
(407) when ``credentials`` is set, and answers every ``CONNECT`` (the tunnel
of an https request) with ``connect_status``; with ``tunnel_to`` (an
``https://host:port``), it opens the tunnel to there instead, whatever
host the ``CONNECT`` names, and passes its bytes both ways.
"""

from __future__ import annotations

import base64
import http.client
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.api.tls_front import pipe, served


@dataclass
class ProxyLog:
    requests: list[str] = field(default_factory=list)
    """``METHOD target`` of every request the proxy was sent, refused ones included."""
    forwarded: int = 0
    """Requests passed on to the upstream server."""
    authorizations: list[str] = field(default_factory=list)
    """Every ``Proxy-Authorization`` header received."""
    errors: list[str] = field(default_factory=list)
    """Failures while serving a request (a client that went away)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def connects(self) -> list[str]:
        return [r for r in self.requests if r.startswith("CONNECT ")]


@dataclass
class ForwardProxy:
    url: str
    log: ProxyLog


def _handler(
    upstream: str,
    log: ProxyLog,
    credentials: tuple[str, str] | None,
    connect_status: int,
    tunnel_to: str | None,
) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(upstream)
    tunnel = urlsplit(tunnel_to) if tunnel_to is not None else None
    expected = (
        "Basic " + base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
        if credentials
        else None
    )

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _record(self) -> bool:
            """Record the request; False (after a 407) when its credentials are wrong."""
            authorization = self.headers.get("Proxy-Authorization")
            with log.lock:
                log.requests.append(f"{self.command} {self.path}")
                if authorization is not None:
                    log.authorizations.append(authorization)
            if expected is not None and authorization != expected:
                self._answer(407, b"proxy credentials required", {"Proxy-Authenticate": "Basic"})
                return False
            return True

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_CONNECT(self) -> None:
            self.close_connection = True
            if not self._record():
                return
            if tunnel is None:
                self._answer(connect_status, b"tunnel refused")
                return
            with socket.create_connection((tunnel.hostname, tunnel.port), timeout=30) as far:
                self.send_response(200, "Connection established")
                self.end_headers()
                back = threading.Thread(target=pipe, args=(far, self.connection), daemon=True)
                back.start()
                pipe(self.connection, far)
                back.join(timeout=30)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if not self._record():
                return
            asked = urlsplit(self.path)
            if not asked.scheme:  # origin form: not a request meant for a proxy
                self._answer(400, b"absolute URL expected")
                return
            headers = {
                name: value
                for name, value in self.headers.items()
                if name.lower() not in ("proxy-authorization", "proxy-connection", "host")
            }
            connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=30)
            try:
                path = asked.path + (f"?{asked.query}" if asked.query else "")
                connection.request("POST", path, body=body, headers=headers)
                answer = connection.getresponse()
                content = answer.read()
                kept = {
                    name: value
                    for name, value in answer.getheaders()
                    if name.lower() in ("content-type", "retry-after", "www-authenticate")
                }
                with log.lock:
                    log.forwarded += 1
                self._answer(answer.status, content, kept)
            finally:
                connection.close()

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    log: ProxyLog

    def handle_error(self, request: object, client_address: object) -> None:
        """Recorded, not printed: the test's own stderr is the CLI's."""
        with self.log.lock:
            self.log.errors.append(repr(sys.exc_info()[1]))


@contextmanager
def forward_proxy(
    upstream: str,
    *,
    credentials: tuple[str, str] | None = None,
    connect_status: int = 403,
    tunnel_to: str | None = None,
) -> Iterator[ForwardProxy]:
    """A proxy on 127.0.0.1 and a free port passing every request on to ``upstream``."""
    log = ProxyLog()
    server = _Server(
        ("127.0.0.1", 0), _handler(upstream, log, credentials, connect_status, tunnel_to)
    )
    server.log = log
    with served(server):
        yield ForwardProxy(f"http://127.0.0.1:{server.server_address[1]}", log)
