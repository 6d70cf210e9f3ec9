"""aiohttp as konvsync imports it, and the TLS context konvsync gives it.

aiohttp makes two TLS contexts of its own when it is imported (3.10 and
later), each loading the machine's CA certificates: 0.47 billion of the
1.09 billion instructions of ``import aiohttp``, 60 ms of CPU, a tenth of a
no-op plan of 10,000 users and more of a small portal's. konvsync uses
neither: its connector is given a context of its own (``tls_context``),
made only when a URL it will contact is https, from the machine's CA
certificates and the variables that name them (``SSL_CERT_FILE``) as they
are. So aiohttp is imported while OpenSSL's variable for the default CA
file names an empty file, and the variable is put back at once. Were one
of aiohttp's own contexts ever used, a server's certificate would still be
verified, but only against the authorities of OpenSSL's default directory
(``SSL_CERT_DIR``, else such as /etc/ssl/certs: looked up there when a
certificate is checked, not loaded at the import), never the CA file's.
Every konvsync module imports aiohttp from here.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit


@contextmanager
def _default_ca_file(path: str) -> Iterator[None]:
    """OpenSSL's default CA file variable set to ``path`` for the block, as
    it was (or unset) after it."""
    name = ssl.get_default_verify_paths().openssl_cafile_env
    kept = os.environ.get(name)
    os.environ[name] = path
    try:
        yield
    finally:
        if kept is None:
            del os.environ[name]
        else:
            os.environ[name] = kept


with _default_ca_file(os.devnull):
    import aiohttp as aiohttp


def tls_context(*urls: str) -> ssl.SSLContext | None:
    """A verifying context with the machine's CA certificates when one of
    ``urls`` is https (30 ms of CPU), else None. The scheme is the one a
    URL parser reads, as aiohttp's does: it drops the spaces and control
    characters that may lead a URL (``\x01https://...`` is https)."""
    if any(urlsplit(url).scheme == "https" for url in urls):
        return ssl.create_default_context()
    return None
