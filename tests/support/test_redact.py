"""Secrets masked on every path (``support/redact.py``), through the CLI in a
subprocess each (the set of masked values is per process), against a
sandbox and a hostile portal that echoes what it was sent (issue 23, items
7 and 8): a saved plan's codes under ``-vv``, codes shorter than 4
characters, the portal's own codes, and a portal error quoting a code in
the output and the ``--report`` file."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp import web

from konvsync.sandbox.server import RunningSandbox
from tests.cli.test_ci import schema
from tests.hostile.harness import Finished, run_konvsync
from tests.hostile.server import Call, Case, running_hostile_server

LONG = "zq-7Hk2-long-code"
SHORT = "Zx"
"""Shorter than 4 characters: masked where it stands whole between quotes."""
ENV = {"LONG_CODE": LONG, "SHORT_CODE": SHORT}
LINKS = """\
konvsync: 1
variables: [LONG_CODE, SHORT_CODE]
inviteLinks:
  - {title: Dealers, access: CODE, code: "${env:LONG_CODE}"}
  - {title: Fair, access: CODE, code: "${env:SHORT_CODE}"}
"""


def _leaks(result: Finished, *more: str) -> list[str]:
    """The codes (the short one as a quoted string) in the output or ``more``."""
    texts = [result.output, *more]
    found = [LONG for text in texts if LONG in text]
    found += [f"{q}{SHORT}{q}" for text in texts for q in "\"'" if f"{q}{SHORT}{q}" in text]
    return found


def _config(tmp_path: Path, text: str = LINKS) -> Path:
    config = tmp_path / "links.yaml"
    config.write_text(text, encoding="utf-8")
    return config


def test_a_saved_plan_under_vv_shows_no_code(sandbox: RunningSandbox, tmp_path: Path) -> None:
    config, planfile = _config(tmp_path), tmp_path / "links.plan"
    endpoint = ["--endpoint", sandbox.url]
    planned = run_konvsync(
        [*endpoint, "plan", str(config), "--out", str(planfile)], tmp_path, env=ENV
    )
    assert planned.exit_code == 0, planned.describe()
    applied = run_konvsync([*endpoint, "-vv", "apply", str(planfile)], tmp_path, env=ENV)
    assert applied.exit_code == 0, applied.describe()
    assert "createInviteLink" in applied.stderr, "no request was logged"
    assert _leaks(applied, planfile.read_text()) == []
    codes = {n["title"]: n["code"] for n in sandbox.store.page("inviteLinks", 100, None)["nodes"]}
    assert codes == {"Dealers": LONG, "Fair": SHORT}


def test_a_short_code_is_masked_under_vv_from_a_config(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    args = ["--endpoint", sandbox.url, "-vv", "apply", str(config), "--auto-approve"]
    applied = run_konvsync(args, tmp_path, env=ENV)
    assert applied.exit_code == 0, applied.describe()
    assert '"code": "***"' in applied.stderr  # the request log, masked
    assert _leaks(applied) == []


class EchoingErrors(Case):
    """Every alias of ``operation`` fails (nothing executed) with an error
    that quotes a value, as a portal validating its input might."""

    def __init__(self, operation: str, echo: dict[str, str]) -> None:
        self.name = f"{operation}-echoes-its-input"
        self.operation = operation
        self.echo = echo
        """Alias's input title -> the value its error quotes."""

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation != self.operation:
            return None
        errors: list[dict[str, Any]] = []
        for index in range(call.fields):
            given = call.variables.get(f"input_{index}") or {}
            quoted = self.echo.get(given.get("title", ""), next(iter(self.echo.values())))
            errors.append(
                {
                    "message": f"code {json.dumps(quoted)} is already used; '{quoted}' rejected",
                    "path": [f"m{index}"],
                    "extensions": {"code": "BAD_USER_INPUT"},
                }
            )
        data = {f"m{index}": None for index in range(call.fields)}
        return web.json_response({"data": data, "errors": errors})


@pytest.mark.parametrize(
    "echo",
    [
        {"Dealers": LONG, "Fair": SHORT},
        # A portal that takes codes in any case echoes them as it stores them.
        {"Dealers": LONG.lower(), "Fair": SHORT.upper()},
    ],
    ids=["as-sent", "another-case"],
)
def test_a_portal_error_quoting_a_code_is_masked_in_output_and_report(
    sandbox: RunningSandbox, tmp_path: Path, echo: dict[str, str]
) -> None:
    config, report_file = _config(tmp_path), tmp_path / "report.json"
    case = EchoingErrors("CreateInviteLinkBatch", echo)
    with running_hostile_server(sandbox.url, case) as portal:
        args = ["--endpoint", portal.endpoint(), "apply", str(config), "--auto-approve"]
        result = run_konvsync([*args, "--report", str(report_file)], tmp_path, env=ENV)
        happened = portal.rewritten
    assert happened, "the case never happened"
    assert result.exit_code == 1, result.describe()
    report = json.loads(report_file.read_text())
    jsonschema.validate(report, schema("apply-report.schema.json"))
    messages = [c["error"]["message"] for c in report["changes"] if c["error"]]
    assert len(messages) == 2 and all('code "***" is already used' in m for m in messages)
    assert _leaks(result, report_file.read_text()) == []
    for shown in (result.output, report_file.read_text()):
        assert not any(code in shown for code in echo.values() if len(code) >= 4), shown


def test_the_portals_own_codes_are_masked(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """Codes only the portal holds (read, never configured) are masked too:
    a pruned link whose delete fails with an error quoting its code."""
    for title, code in (("Dealers", LONG), ("Fair", SHORT)):
        sandbox.store.create("inviteLinks", {"title": title, "access": "CODE", "code": code})
    config = _config(tmp_path, "konvsync: 1\npolicy: {prune: [inviteLinks]}\ninviteLinks: []\n")
    report_file = tmp_path / "report.json"
    case = EchoingErrors("DeleteInviteLinkBatch", {"": LONG})
    with running_hostile_server(sandbox.url, case) as portal:
        args = ["--endpoint", portal.endpoint(), "apply", str(config), "--auto-approve"]
        result = run_konvsync([*args, "--report", str(report_file)], tmp_path)
        happened = portal.rewritten
        exported = run_konvsync(["--endpoint", portal.endpoint(), "-vv", "export"], tmp_path)
    assert happened, "the case never happened"
    assert result.exit_code == 1, result.describe()
    assert 'code "***" is already used' in result.stdout
    assert exported.exit_code == 0, exported.describe()
    assert _leaks(result, report_file.read_text()) == [] and _leaks(exported) == []


class EchoingUnquoted(Case):
    """Every alias of ``operation`` fails (nothing executed) with an error
    that names the link's code without quotes, and puts it (with a terminal
    escape) in ``extensions.code`` too."""

    def __init__(self, operation: str) -> None:
        self.name = f"{operation}-echoes-unquoted"
        self.operation = operation

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation != self.operation:
            return None
        errors: list[dict[str, Any]] = []
        for index in range(call.fields):
            code = (call.variables.get(f"input_{index}") or {}).get("code", "")
            errors.append(
                {
                    "message": f"invalid input {{code: {code}}}: code {code} is taken",
                    "path": [f"m{index}"],
                    "extensions": {"code": f"{code}\x1b[2J"},
                }
            )
        data = {f"m{index}": None for index in range(call.fields)}
        return web.json_response({"data": data, "errors": errors})


def test_a_portal_error_naming_a_short_code_without_quotes_is_masked(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A short code is masked only between quotes in konvsync's own text (to
    keep other words whole), but a portal's error text is the portal's
    echo of what it was sent: 'code Zx is taken' showed the code in the
    output and the report, and ``extensions.code`` was shown as sent (any
    text, the code or a terminal escape included)."""
    config, report_file = _config(tmp_path), tmp_path / "report.json"
    case = EchoingUnquoted("CreateInviteLinkBatch")
    with running_hostile_server(sandbox.url, case) as portal:
        args = ["--endpoint", portal.endpoint(), "apply", str(config), "--auto-approve"]
        result = run_konvsync([*args, "--report", str(report_file)], tmp_path, env=ENV)
        happened = portal.rewritten
    assert happened, "the case never happened"
    assert result.exit_code == 1, result.describe()
    text = report_file.read_text()
    report = json.loads(text)
    jsonschema.validate(report, schema("apply-report.schema.json"))
    errors = [c["error"] for c in report["changes"] if c["error"]]
    assert [e["code"] for e in errors] == ["INTERNAL", "INTERNAL"], errors
    assert all("code *** is taken" in e["message"] for e in errors), errors
    for shown in (result.output, text):
        assert SHORT not in shown and LONG not in shown
        assert "\x1b" not in shown


def test_a_code_the_portal_echoes_as_it_stores_it_is_masked(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The contract lets a portal store a string trimmed or in Unicode form
    NFC: its error then quotes the code in that form (``zq-7Hk2-long-code``
    for `` zq-7Hk2-long-code ``, ``é`` as one character for ``e`` and a
    combining accent), which was not the form masked, and showed it."""
    trimmed, decomposed = " zq-7Hk2-long-code ", "Cafe\u0301-2027"
    stored = {"Dealers": trimmed.strip(), "Fair": unicodedata.normalize("NFC", decomposed)}
    config, report_file = _config(tmp_path), tmp_path / "report.json"
    case = EchoingErrors("CreateInviteLinkBatch", stored)
    with running_hostile_server(sandbox.url, case) as portal:
        args = ["--endpoint", portal.endpoint(), "apply", str(config), "--auto-approve"]
        env = {"LONG_CODE": trimmed, "SHORT_CODE": decomposed}
        result = run_konvsync([*args, "--report", str(report_file)], tmp_path, env=env)
        happened = portal.rewritten
    assert happened, "the case never happened"
    assert result.exit_code == 1, result.describe()
    assert 'code "***" is already used' in result.stdout, result.describe()
    for shown in (result.output, report_file.read_text(encoding="utf-8")):
        for code in (*stored.values(), "Caf\\u00e9-2027"):
            assert code not in shown, shown
