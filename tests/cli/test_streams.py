"""konvsync's standard output and error as CI pipelines and terminals give
them: a reader that quits early (``plan | head -1``), a stream closed
(``>&-``, ``2>&-``), an encoding that cannot show every character (a
Latin-1 terminal, a Windows pipe), and an output file that is the
command's own stdout. The real CLI in a subprocess, against a real sandbox.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from konvsync.sandbox.server import RunningSandbox
from tests.cli.test_ci import subprocess_env
from tests.conftest import invoke

ConfigWriter = Callable[..., Path]
KONVSYNC = [sys.executable, "-m", "konvsync"]

CONFIG = """\
konvsync: 1
accounts:
  - {externalId: acme, name: "ACME ☃ العربية"}
users:
  - {email: zoe@acme.example, firstName: "Zoë 🚀", lastName: "שלום", title: Lead, account: acme}
"""


def konvsync(
    sandbox: RunningSandbox,
    *args: str,
    cwd: Path,
    stdout: int | None = None,
    stderr: int | None = None,
    shell_redirect: str = "",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run konvsync; ``stdout``/``stderr`` a file descriptor to give it (by
    default captured); ``shell_redirect`` (``>&-``) is applied by sh."""
    command = [*KONVSYNC, "--endpoint", sandbox.url, *args]
    if shell_redirect:
        command = ["sh", "-c", f'exec "$@" {shell_redirect}', "sh", *command]
    return subprocess.run(
        command,
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE if stderr is None else stderr,
        env=subprocess_env(**(env or {})),
        cwd=cwd,
        timeout=120,
    )


def into_a_closed_pipe(
    sandbox: RunningSandbox, *args: str, cwd: Path
) -> subprocess.CompletedProcess[bytes]:
    """stdout a pipe whose reader has gone (``| head -0``)."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return konvsync(sandbox, *args, cwd=cwd, stdout=writer)
    finally:
        os.close(writer)


def applied(sandbox: RunningSandbox, write_config: ConfigWriter) -> Path:
    config = write_config(CONFIG)
    done = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert done.exit_code == 0, done.output
    return config


def retitle(sandbox: RunningSandbox, title: str) -> None:
    """Someone changes the user's title in the portal by hand."""
    user = next(iter(sandbox.store.objects("users")))
    sandbox.store.update("users", user["id"], {"title": title})


def one_error_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8")
    assert "Traceback" not in text and "Exception ignored" not in text, text
    errors = [line for line in text.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, text
    return errors[0]


# ------------------------------------------------- a reader that quits early


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_plan_into_a_closed_pipe_is_one_error_line(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path, fmt: str
) -> None:
    config = write_config(CONFIG)
    done = into_a_closed_pipe(sandbox, "plan", str(config), "--format", fmt, cwd=tmp_path)
    assert done.returncode == 1
    assert "standard output" in one_error_line(done.stderr)


def test_plan_out_into_a_closed_pipe_says_the_plan_file_was_saved(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(CONFIG)
    out = tmp_path / "saved.plan"
    done = into_a_closed_pipe(sandbox, "plan", str(config), "--out", str(out), cwd=tmp_path)
    assert done.returncode == 1
    assert out.is_file()
    line = one_error_line(done.stderr)
    assert "standard output" in line and f"saved the plan to {out}" in line


def test_drift_write_into_a_closed_pipe_says_which_files_it_wrote(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = applied(sandbox, write_config)
    retitle(sandbox, "Chief ☃")
    done = into_a_closed_pipe(sandbox, "drift", str(config), "--write", cwd=tmp_path)
    assert "Chief ☃" in config.read_text(encoding="utf-8")  # it was written...
    assert done.returncode == 1
    line = one_error_line(done.stderr)  # ...and it says so
    assert "standard output" in line and f"wrote {config}" in line


def test_apply_whose_plan_is_cut_off_changes_nothing_and_says_so(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(CONFIG)
    report = tmp_path / "report.json"
    args = ["apply", str(config), "--auto-approve", "--report", str(report)]
    done = into_a_closed_pipe(sandbox, *args, cwd=tmp_path)
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert "standard output" in line and line.endswith("; nothing was changed"), line
    assert not sandbox.store.objects("users")
    written = json.loads(report.read_text(encoding="utf-8"))
    assert written["status"] == "error" and written["error"]["code"] == "output_closed"


def test_apply_whose_summary_is_cut_off_says_how_the_apply_ended(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(CONFIG)
    done = into_a_closed_pipe(sandbox, "apply", str(config), "--auto-approve", "-q", cwd=tmp_path)
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert "standard output" in line and line.endswith("; the apply ran: complete"), line
    assert sandbox.store.objects("users")


@pytest.mark.parametrize("command", ["plan", "apply", "drift"])
def test_a_refusal_into_a_closed_pipe_is_still_the_refusal(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path, command: str
) -> None:
    """The refused plan is shown in full before the refusal (exit 3): the
    output lost, the refusal is said, and apply's report says it too."""
    config = write_config(CONFIG.replace("konvsync: 1\n", "konvsync: 1\nportal: Another Portal\n"))
    report = tmp_path / "report.json"
    extra = ["--auto-approve", "--report", str(report)] if command == "apply" else []
    done = into_a_closed_pipe(sandbox, command, str(config), *extra, cwd=tmp_path)
    assert done.returncode == 3
    assert "the config is for 'Another Portal'" in one_error_line(done.stderr)
    if command == "apply":
        assert json.loads(report.read_text(encoding="utf-8"))["status"] == "refused"


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "CONFIG"],
        ["validate", "CONFIG", "--format", "json"],
        ["drift", "CONFIG", "--format", "json"],
        ["export"],
        ["doctor"],
        ["schema"],
    ],
)
def test_other_commands_into_a_closed_pipe_are_one_error_line(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path, args: list[str]
) -> None:
    config = write_config(CONFIG)
    given = [str(config) if a == "CONFIG" else a for a in args]
    done = into_a_closed_pipe(sandbox, *given, cwd=tmp_path)
    assert done.returncode == 1
    assert "standard output" in one_error_line(done.stderr)


@pytest.mark.parametrize("stdout", ["closed pipe", "/dev/full"])
@pytest.mark.parametrize("args", [["--help"], ["--version"], ["plan", "--help"]])
def test_help_and_version_on_a_stdout_that_cannot_be_written_are_one_error_line(
    sandbox: RunningSandbox, tmp_path: Path, args: list[str], stdout: str
) -> None:
    """--help and --version print as every command's output does: into a
    reader that quit, ``konvsync --help`` ended with exit 1 without a word,
    and on a full disk each was "unexpected OSError ... please report it"."""
    if stdout == "closed pipe":
        done = into_a_closed_pipe(sandbox, *args, cwd=tmp_path)
    else:
        writer = os.open(stdout, os.O_WRONLY)
        try:
            done = konvsync(sandbox, *args, cwd=tmp_path, stdout=writer)
        finally:
            os.close(writer)
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert line.startswith("Error: cannot write to standard output ("), line


@pytest.mark.parametrize("fmt", ["json", "github"])
def test_invalid_config_into_a_closed_pipe_lists_its_problems_on_stderr(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path, fmt: str
) -> None:
    """validate --format json/github lists the problems on stdout; cut off,
    they are listed on stderr (as --format text does), not lost."""
    config = write_config(CONFIG.replace("title: Lead", "titel: Lead"))
    done = into_a_closed_pipe(sandbox, "validate", str(config), "--format", fmt, cwd=tmp_path)
    assert done.returncode == 1
    assert one_error_line(done.stderr) == "Error: configuration invalid: 1 problem"
    assert f"{config}:5:" in done.stderr.decode("utf-8") and "titel" in done.stderr.decode()


# ------------------------------------------------------------ closed streams


def test_stdout_closed_is_one_error_line(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(CONFIG)
    done = konvsync(sandbox, "plan", str(config), cwd=tmp_path, shell_redirect=">&-")
    assert done.returncode == 1
    assert "standard output" in one_error_line(done.stderr)


def test_stderr_closed_still_prints_the_plan(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(CONFIG)
    done = konvsync(sandbox, "plan", str(config), cwd=tmp_path, shell_redirect="2>&-")
    assert done.returncode == 0
    assert "Plan: 2 to add" in done.stdout.decode("utf-8")


def test_apply_with_stdin_closed_asks_for_auto_approve(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(CONFIG)
    done = konvsync(sandbox, "apply", str(config), cwd=tmp_path, shell_redirect="<&-")
    assert done.returncode == 1
    assert "stdin is not a terminal; pass --auto-approve" in one_error_line(done.stderr)
    assert not sandbox.store.objects("users")


@pytest.mark.parametrize("stderr", ["closed pipe", "/dev/full"])
def test_a_stderr_that_cannot_be_written_still_prints_the_plan(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path, stderr: str
) -> None:
    """Notes and progress that cannot be written (no reader, a full disk)
    are lost; the plan is not."""
    config = write_config(CONFIG)
    if stderr == "closed pipe":
        reader, writer = os.pipe()
        os.close(reader)
    else:
        writer = os.open(stderr, os.O_WRONLY)
    try:
        # A folder: plan notes on stderr how many files it read.
        done = konvsync(sandbox, "plan", str(config.parent), cwd=tmp_path, stderr=writer)
    finally:
        os.close(writer)
    assert done.returncode == 0
    assert "Plan: 2 to add" in done.stdout.decode("utf-8")


# ----------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_text_plan_on_a_legacy_encoding_escapes_what_it_cannot_show(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path, encoding: str
) -> None:
    config = write_config(CONFIG)
    done = konvsync(sandbox, "plan", str(config), cwd=tmp_path, env={"PYTHONIOENCODING": encoding})
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode(encoding)
    assert '"Zoë \\U0001f680"' in text and "ACME \\u2603" in text


@pytest.mark.parametrize("args", [["plan", "CONFIG", "--format", "json"], ["export"]])
def test_documents_on_a_legacy_encoding_are_utf8(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path, args: list[str]
) -> None:
    config = applied(sandbox, write_config)
    retitle(sandbox, "Chief ☃")
    given = [str(config) if a == "CONFIG" else a for a in args]
    done = konvsync(sandbox, *given, cwd=tmp_path, env={"PYTHONIOENCODING": "latin-1"})
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode("utf-8")  # JSON and YAML are UTF-8 by their specifications
    assert "Chief ☃" in text and "Zoë 🚀" in text
    if args[0] == "plan":
        assert json.loads(text)


def test_drift_write_on_a_legacy_encoding_writes_and_shows(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = applied(sandbox, write_config)
    retitle(sandbox, "Chief ☃")
    done = konvsync(
        sandbox, "drift", str(config), "--write", cwd=tmp_path, env={"PYTHONIOENCODING": "latin-1"}
    )
    assert done.returncode == 2, done.stderr
    assert "Chief \\u2603" in done.stdout.decode("latin-1")
    assert "Chief ☃" in config.read_text(encoding="utf-8")


ASCII_LOCALE = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
"""A locale without UTF-8: Python reads the environment and file names as
ASCII, bytes beyond it as lone surrogates."""


def test_a_utf8_variable_under_an_ascii_locale_is_its_text(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """A UTF-8 value was "not UTF-8 text; set it again" (and under a Latin-1
    locale, read as Latin-1: "Chief â\x98\x83" sent to the portal)."""
    config = write_config(
        CONFIG.replace("konvsync: 1\n", "konvsync: 1\nvariables: [TITLE]\n").replace(
            "title: Lead", 'title: "${env:TITLE}"'
        )
    )
    env = {**ASCII_LOCALE, "TITLE": "Chief ☃"}
    done = konvsync(sandbox, "plan", str(config), "--format", "json", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    users = [c for c in json.loads(done.stdout.decode("utf-8"))["changes"] if c["kind"] == "users"]
    assert users[0]["after"]["title"] == "Chief ☃"


def test_a_utf8_api_secret_under_an_ascii_locale_is_its_text(
    sandbox_factory: Callable[..., RunningSandbox], write_config: ConfigWriter, tmp_path: Path
) -> None:
    """KONVERT_API_KEY and KONVERT_API_SECRET are read as UTF-8, as a
    credentials file is: a secret with a letter beyond ASCII was "unexpected
    UnicodeEncodeError" naming a character of it (and, under a Latin-1
    locale, other letters sent: refused as wrong credentials)."""
    secret = "Schlüssel-für-den-Sandbox-Zugang-☃"
    sandbox = sandbox_factory(api_key="clé", api_secret=secret)
    config = write_config(CONFIG)
    env = {**ASCII_LOCALE, "KONVERT_API_KEY": "clé", "KONVERT_API_SECRET": secret}
    done = konvsync(sandbox, "plan", str(config), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "Plan: 2 to add" in done.stdout.decode("utf-8")


def test_an_api_secret_that_is_not_utf8_is_one_line_without_it(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(CONFIG)
    command = [*KONVSYNC, "--endpoint", sandbox.url, "plan", str(config)]
    env = {os.fsencode(k): os.fsencode(v) for k, v in subprocess_env().items()}
    env[b"KONVERT_API_SECRET"] = b"secret-\xff\xfe-value"
    done = subprocess.run(command, capture_output=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert "KONVERT_API_SECRET is not UTF-8 text" in line, line
    assert b"secret-" not in done.stderr and b"value" not in done.stderr


def test_a_utf8_file_name_under_an_ascii_locale_says_the_locale_is_the_cause(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    folder = tmp_path / "portál"
    folder.mkdir()
    (folder / "konvsync.yaml").write_text(CONFIG, encoding="utf-8")
    done = konvsync(sandbox, "validate", "portál", cwd=tmp_path, env=ASCII_LOCALE)
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert "not UTF-8 text" not in line and "LC_ALL=C.UTF-8" in line, line


# ------------------------------------------------- an output file that is stdout


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "CONFIG", "--out", "/dev/stdout"],
        ["apply", "CONFIG", "--auto-approve", "--report", "/dev/stdout"],
        ["apply", "CONFIG", "--auto-approve", "--report", "OUTPUT"],
        ["plan", "CONFIG", "--out", "ERRORS"],
    ],
)
def test_an_output_file_that_is_the_commands_own_output_is_refused(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path, args: list[str]
) -> None:
    config = write_config(CONFIG)
    output, errors = tmp_path / "output.log", tmp_path / "errors.log"
    names = {"CONFIG": str(config), "OUTPUT": str(output), "ERRORS": str(errors)}
    with output.open("wb") as out, errors.open("wb") as err:
        done = konvsync(
            sandbox,
            *[names.get(a, a) for a in args],
            cwd=tmp_path,
            stdout=out.fileno(),
            stderr=err.fileno(),
        )
    assert done.returncode == 1
    said = errors.read_text(encoding="utf-8")
    assert "is this command's standard" in said and "name another file" in said, said
    assert not sandbox.store.objects("users")  # nothing was applied
