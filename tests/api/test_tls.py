"""konvsync over https: the portal's certificate checked against the
machine's authorities (``SSL_CERT_FILE`` as the user set it), though
the command line loads aiohttp with its own contexts left empty
(konvsync/api/tls.py).

Each run is a new process: what is tested is what happens when konvsync
first imports aiohttp, as a user's run does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from konvsync.sandbox.server import RunningSandbox
from tests.api.forward_proxy import forward_proxy
from tests.api.tls_front import TlsFront, tls_front

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "konvsync: 1\ngroups:\n  - externalId: sales\n    name: Sales\n"


def _konvsync(
    front: TlsFront,
    folder: Path,
    ca_file: Path | None,
    *args: str,
    endpoint: str | None = None,
    https_proxy: str | None = None,
    cert_dir: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """konvsync with ``args`` against ``endpoint`` (default: the front),
    through ``https_proxy`` when given, else no proxy; ``SSL_CERT_FILE``
    is ``ca_file`` and ``SSL_CERT_DIR`` is ``cert_dir`` (unset: None)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("SSL_CERT_FILE", "SSL_CERT_DIR") and not name.lower().endswith("_proxy")
    }
    if https_proxy is not None:
        env["HTTPS_PROXY"] = https_proxy
    env.update(
        KONVERT_API_KEY="sandbox-key",
        KONVERT_API_SECRET="sandbox-secret-not-for-production",
        NO_COLOR="1",
    )
    if ca_file is not None:
        env["SSL_CERT_FILE"] = str(ca_file)
    if cert_dir is not None:
        env["SSL_CERT_DIR"] = str(cert_dir)
    return subprocess.run(
        [sys.executable, "-m", "konvsync", "--endpoint", endpoint or front.url, *args, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "konvsync.yaml").write_text(CONFIG, encoding="utf-8")
    return folder


@pytest.fixture
def other(tmp_path: Path) -> Path:
    """The certificate of an authority that issued none of the tests' certificates."""
    path = tmp_path / "other-authority.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


def test_an_https_portal_whose_authority_ssl_cert_file_names_is_planned_and_applied(
    sandbox: RunningSandbox, tmp_path: Path, config: Path
) -> None:
    with tls_front(sandbox.url, tmp_path) as front:
        plan = _konvsync(front, config, front.ca_file, "plan")
        assert plan.returncode == 0, plan.stderr
        assert '+ group "sales"' in plan.stdout
        applied = _konvsync(front, config, front.ca_file, "apply", "--auto-approve")
        assert applied.returncode == 0, applied.stderr
    assert sandbox.store.get("groups", key="sales") is not None


def test_ssl_cert_file_at_a_path_that_is_not_ascii_is_taken(
    sandbox: RunningSandbox, tmp_path: Path, config: Path
) -> None:
    with tls_front(sandbox.url, tmp_path) as front:
        named = tmp_path / "autorité d'entreprise ü.pem"
        shutil.copyfile(front.ca_file, named)
        plan = _konvsync(front, config, named, "plan")
    assert plan.returncode == 0, plan.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="names a certificate by its hash")
def test_an_authority_in_the_directory_ssl_cert_dir_names_is_taken(
    sandbox: RunningSandbox, tmp_path: Path, config: Path
) -> None:
    """OpenSSL looks an authority up in ``SSL_CERT_DIR`` by the hash of its
    name (``<hash>.0``, as c_rehash names them) when a certificate is checked."""
    with tls_front(sandbox.url, tmp_path) as front:
        folder = tmp_path / "authorities"
        folder.mkdir()
        named = subprocess.run(
            ["openssl", "x509", "-hash", "-noout", "-in", str(front.ca_file)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        shutil.copyfile(front.ca_file, folder / f"{named}.0")
        plan = _konvsync(front, config, None, "plan", cert_dir=folder)
        alone = _konvsync(front, config, None, "plan")  # the machine's own do not vouch for it
    assert plan.returncode == 0, plan.stderr
    assert alone.returncode == 1
    assert "TLS certificate not accepted" in alone.stderr


def test_a_certificate_from_an_authority_the_machine_does_not_trust_is_refused(
    sandbox: RunningSandbox, tmp_path: Path, config: Path, other: Path
) -> None:
    with tls_front(sandbox.url, tmp_path) as front:
        run = _konvsync(front, config, other, "apply", "--auto-approve")
    assert run.returncode == 1
    assert "TLS certificate not accepted (unable to get local issuer certificate)" in run.stderr
    assert "Traceback" not in run.stderr
    assert sandbox.store.get("groups", key="sales") is None


_COMMAND_LOADED = (
    "import os, click\n"
    "from konvsync.cli.main import cli\n"
    "for name in {commands!r}:\n"
    "    cli.get_command(click.Context(cli), name)\n"
)
"""A probe that loads commands' modules as the command line does (``konvsync
NAME``: ``get_command``), aiohttp among them."""
_AIOHTTP_S_OWN = (
    "import aiohttp.connector as c\n"
    "print(c._SSL_CONTEXT_VERIFIED.cert_store_stats()['x509'],"
    " c._SSL_CONTEXT_UNVERIFIED.cert_store_stats()['x509'])\n"
)
"""A probe that prints how many certificates aiohttp's own two contexts loaded."""


def _probe(code: str, **variables: str | None) -> str:
    env = {name: value for name, value in os.environ.items() if name not in variables}
    env.update({name: value for name, value in variables.items() if value is not None})
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize(
    "set_to", [None, "", "/etc/corporate-authorities.pem", "/srv/autorit\u00e9s"]
)
def test_the_authority_variables_are_as_the_user_set_them_once_a_command_is_loaded(
    set_to: str | None,
) -> None:
    shown = "print(os.environ.get('SSL_CERT_FILE'), os.environ.get('SSL_CERT_DIR'), sep='|')"
    code = _COMMAND_LOADED.format(commands=("plan", "apply", "drift")) + shown
    said = _probe(code, SSL_CERT_FILE=set_to, SSL_CERT_DIR=set_to)
    assert said.rstrip("\n") == f"{set_to}|{set_to}"


def test_aiohttp_s_own_contexts_load_no_certificate_when_the_command_line_loads_it(
    other: Path,
) -> None:
    """The 60 ms this saves: the contexts aiohttp makes when imported hold
    no certificate (made while the default CA file is an empty one), though
    ``SSL_CERT_FILE`` names one (which konvsync's own context loads)."""
    for command in ("plan", "apply", "drift", "export", "doctor"):
        code = _COMMAND_LOADED.format(commands=(command,)) + _AIOHTTP_S_OWN
        assert _probe(code, SSL_CERT_FILE=str(other)).split() == ["0", "0"], command


def test_a_program_that_imports_konvsync_itself_gets_aiohttp_as_it_comes(other: Path) -> None:
    """Only the command line, which owns its process, leaves aiohttp's own
    contexts empty: a program importing konvsync's client keeps the
    authority its SSL_CERT_FILE names for its own aiohttp requests."""
    code = "import konvsync.api.client, konvsync.app.apply\n" + _AIOHTTP_S_OWN
    assert _probe(code, SSL_CERT_FILE=str(other)).split() == ["1", "1"]


def test_a_certificate_refused_on_a_request_to_the_api_is_not_retried(
    sandbox: RunningSandbox, tmp_path: Path, config: Path, other: Path
) -> None:
    """With ``--auth jwt`` (no token request) the first connection is the
    API's: a certificate no authority vouches for is refused again on every
    try, so it stops the command at once, as the token request's does."""
    with tls_front(sandbox.url, tmp_path) as front:
        run = _konvsync(front, config, other, "--auth", "jwt", "apply", "--auto-approve")
    assert run.returncode == 1
    error = run.stderr.strip().splitlines()[-1]
    # The request that failed first names it (the viewer, or a read sent with it).
    label, _, rest = error.removeprefix("Error: ").partition(": ")
    assert label.isidentifier(), error
    assert rest == (
        "TLS certificate not accepted (unable to get local issuer certificate) "
        f"from {front.url}/api"
    )
    assert sandbox.store.get("groups", key="sales") is None


def test_an_endpoint_url_led_by_a_control_character_is_verified_with_ssl_cert_file(
    sandbox: RunningSandbox, tmp_path: Path, config: Path
) -> None:
    """A URL's parser drops control characters before its scheme (WHATWG),
    so aiohttp speaks https to ``\\x01https://...``: its context is konvsync's
    (the authority ``SSL_CERT_FILE`` names), not aiohttp's own."""
    with tls_front(sandbox.url, tmp_path) as front:
        led = TlsFront("\x01" + front.url, front.ca_file)
        plan = _konvsync(led, config, front.ca_file, "plan")
    assert plan.returncode == 0, plan.stderr
    assert '+ group "sales"' in plan.stdout


@pytest.mark.parametrize(
    ("auth", "failed"),
    [
        ("oauth", "cannot reach token endpoint https://portal.test/oauth/token"),
        ("jwt", "Viewer"),
    ],
)
def test_a_proxy_s_certificate_not_accepted_is_said_to_be_the_proxy_s(
    auth: str, failed: str, sandbox: RunningSandbox, tmp_path: Path, config: Path, other: Path
) -> None:
    """An https:// proxy's certificate is checked as the portal's is; when
    it is refused, the line says whose it was: the portal's URL and the
    proxy's are both in it, and the user would look at the portal's."""
    with tls_front(sandbox.url, tmp_path) as proxy:  # TLS on its port: no tunnel is reached
        run = _konvsync(
            proxy,
            config,
            other,
            "--auth",
            auth,
            "plan",
            endpoint="https://portal.test",
            https_proxy=proxy.url,
        )
    assert run.returncode == 1
    error = run.stderr.strip().splitlines()[-1]
    assert error.startswith(f"Error: {failed}"), error
    assert (
        "the proxy's TLS certificate not accepted (unable to get local issuer certificate)"
    ) in error
    assert f"through proxy {proxy.url} (HTTPS_PROXY)" in error


@pytest.mark.parametrize("trusted", [True, False])
def test_an_https_portal_through_a_proxy_s_tunnel_is_verified_with_ssl_cert_file(
    trusted: bool, sandbox: RunningSandbox, tmp_path: Path, config: Path, other: Path
) -> None:
    """Through an http:// proxy, TLS goes inside the tunnel (CONNECT) to the
    portal: its certificate is checked as a direct one is, against the
    authority ``SSL_CERT_FILE`` names; another's is refused, as the portal's."""
    with (
        tls_front(sandbox.url, tmp_path, host="portal.test") as front,
        forward_proxy(sandbox.url, tunnel_to=front.url) as proxy,
    ):
        run = _konvsync(
            front,
            config,
            front.ca_file if trusted else other,
            "apply",
            "--auto-approve",
            endpoint="https://portal.test",
            https_proxy=proxy.url,
        )
    assert proxy.log.connects and set(proxy.log.connects) == {"CONNECT portal.test:443"}
    assert proxy.log.forwarded == 0  # nothing went around the tunnel
    if trusted:
        assert run.returncode == 0, run.stderr
        assert sandbox.store.get("groups", key="sales") is not None
    else:
        assert run.returncode == 1
        assert run.stderr.strip().splitlines()[-1] == (
            "Error: cannot reach token endpoint https://portal.test/oauth/token through proxy "
            f"{proxy.url} (HTTPS_PROXY): TLS certificate not accepted (unable to get local "
            "issuer certificate)"
        )
        assert sandbox.store.get("groups", key="sales") is None
