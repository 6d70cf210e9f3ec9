"""A TLS front on loopback for the tests: the https a real portal serves
(a fake at a true boundary).

It answers TLS on its own port with a certificate for ``127.0.0.1`` (or
the ``host`` given: a name only a proxy's tunnel reaches) issued
by a certificate authority made for the test run (trustme), and passes the
bytes of each connection on to one upstream server, the sandbox, as they
come. ``ca_file`` holds the authority's certificate: a konvsync run trusts
the front only when ``SSL_CERT_FILE`` names that file.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import trustme


@dataclass(frozen=True)
class TlsFront:
    url: str
    """``https://127.0.0.1:PORT``."""
    ca_file: Path
    """The certificate of the authority that issued the front's certificate."""


def pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, target):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


@contextmanager
def tls_front(upstream: str, folder: Path, host: str = "127.0.0.1") -> Iterator[TlsFront]:
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(host).configure_cert(context)
    ca_file = folder / "test-authority.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    target = urlsplit(upstream)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            try:
                client = context.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError):
                return  # a client that refused our certificate
            with client, socket.create_connection((target.hostname, target.port)) as server:
                back = threading.Thread(target=pipe, args=(server, client), daemon=True)
                back.start()
                pipe(client, server)
                back.join(timeout=30)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with served(server):
        yield TlsFront(f"https://127.0.0.1:{server.server_address[1]}", ca_file)


@contextmanager
def served(server: socketserver.BaseServer) -> Iterator[None]:
    """``server`` serving in a thread of its own for the block, then closed."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
