"""TLS to the portal: the context konvsync gives aiohttp, and aiohttp's own
contexts made without the machine's certificates.

aiohttp makes two TLS contexts of its own when it is imported (3.10 and
later), each loading the machine's CA certificates: 0.47 billion of the
1.09 billion instructions of ``import aiohttp``, 60 ms of CPU, a tenth of a
no-op plan of 10,000 users and more of a small portal's. konvsync uses
neither: its connector is given a context of its own (``tls_context``),
made only when a URL it will contact is https, from the machine's CA
certificates and the variables that name them (``SSL_CERT_FILE``,
``SSL_CERT_DIR``) as the user set them. So the command line loads a
command's modules (aiohttp among them) inside ``authorities_unnamed``:
OpenSSL's two variables name an empty file for the while, then are put
back as they were. Were one of aiohttp's own contexts ever used, every
certificate would be refused, none accepted. A program that imports
konvsync itself gets aiohttp as it comes: only the command line, which
owns its process, changes its variables.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

AUTHORITY_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")
"""OpenSSL's variables for the default CA file and directory (its
``X509_get_default_cert_file_env`` and ``..._dir_env``; the names in
``ssl.get_default_verify_paths()``)."""


@contextmanager
def authorities_unnamed() -> Iterator[None]:
    """OpenSSL's default CA file and directory set to an empty file for the
    block (a TLS context made in it loads and finds no certificate), each
    as it was, or unset, after it."""
    kept = {name: os.environ.get(name) for name in AUTHORITY_VARIABLES}
    for name in AUTHORITY_VARIABLES:
        os.environ[name] = os.devnull
    try:
        yield
    finally:
        for name, value in kept.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


def tls_context(*urls: str) -> ssl.SSLContext | None:
    """A verifying context with the machine's CA certificates when one of
    ``urls`` is https (30 ms of CPU), else None. The scheme is the one a
    URL parser reads, as aiohttp's does: it drops the spaces and control
    characters that may lead a URL (``\x01https://...`` is https)."""
    if any(urlsplit(url).scheme == "https" for url in urls):
        return ssl.create_default_context()
    return None
