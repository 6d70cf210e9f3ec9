"""Files konvsync writes (``plan --out``, ``--report``, ``export --out``)
behind a symlink are written where the link points, as ``drift --write``
writes a symlinked config file: the link stays (a path that is no regular
file is refused before: tests/cli/test_params.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import invoke

CONFIG = """\
konvsync: 1
groups:
  - {externalId: sales, name: Sales}
"""


def test_plan_out_and_report_behind_a_symlink_are_written_where_it_points(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = write_config(CONFIG)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "plan.json").write_text("old", encoding="utf-8")
    (tmp_path / "plan.json").symlink_to(shared / "plan.json")
    (tmp_path / "report.json").symlink_to(shared / "report.json")  # dangling: made there
    endpoint = ["--endpoint", sandbox.url]
    planned = invoke([*endpoint, "plan", str(config), "--out", str(tmp_path / "plan.json")])
    assert planned.exit_code == 0, planned.output
    report = ["--report", str(tmp_path / "report.json")]
    applied = invoke([*endpoint, "apply", str(config), "--auto-approve", *report])
    assert applied.exit_code == 0, applied.output
    for name in ("plan.json", "report.json"):
        assert (tmp_path / name).is_symlink(), name
        assert json.loads((shared / name).read_text(encoding="utf-8")), name
    assert "sales" in (shared / "plan.json").read_text(encoding="utf-8")


def test_export_force_writes_a_symlinked_file_where_it_points(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    sandbox.store.create("groups", {"externalId": "sales", "name": "Sales"})
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "groups.yaml").write_text("konvsync: 1\ngroups: []\n", encoding="utf-8")
    out = tmp_path / "config"
    out.mkdir()
    (out / "groups.yaml").symlink_to(shared / "groups.yaml")
    result = invoke(["--endpoint", sandbox.url, "export", "--out", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert (out / "groups.yaml").is_symlink()
    assert "externalId: sales" in (shared / "groups.yaml").read_text(encoding="utf-8")


def test_plan_out_to_a_symlink_loop_is_one_line(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    (tmp_path / "a.json").symlink_to(tmp_path / "b.json")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    out = str(tmp_path / "a.json")
    result = invoke(["--endpoint", sandbox.url, "plan", str(write_config(CONFIG)), "--out", out])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().startswith(f"Error: cannot write {out}: "), result.stderr
    assert result.stderr.strip().endswith("nothing was written"), result.stderr
    assert (tmp_path / "a.json").is_symlink() and (tmp_path / "b.json").is_symlink()


def test_an_output_file_below_a_file_says_which_file_is_in_the_way(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """``--out afile/plan.json`` where ``afile`` is a file said "cannot
    write afile: File exists", which named neither the file konvsync meant
    to write nor why a file that exists stops it."""
    config = write_config(CONFIG)
    (tmp_path / "afile").write_text("", encoding="utf-8")
    out = tmp_path / "afile" / "sub" / "plan.json"
    planned = invoke(["--endpoint", sandbox.url, "plan", str(config), "--out", str(out)])
    assert planned.exit_code == 1, planned.output
    assert (
        f"cannot write {out}: {tmp_path / 'afile'} is a file, not a folder; nothing was written"
    ) in planned.stderr, planned.stderr


def test_output_files_made_read_only_are_not_replaced(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """A plan or report file made read-only (a reviewed plan kept from
    change) was replaced: a rename needs no permission on the file it
    replaces, and root may write anything. It is refused, as ``drift
    --write`` refuses a read-only config file: exit 1, nothing written,
    nothing applied."""
    config = write_config(CONFIG)
    endpoint = ["--endpoint", sandbox.url]
    for option, command in (("--out", ["plan"]), ("--report", ["apply", "--auto-approve"])):
        kept = tmp_path / f"kept{option}.json"
        kept.write_text("reviewed", encoding="utf-8")
        kept.chmod(0o444)
        done = invoke([*endpoint, command[0], str(config), *command[1:], option, str(kept)])
        assert done.exit_code == 1, done.output
        assert f"cannot write {kept}: the file is read-only; nothing was written" in done.stderr
        assert kept.read_text(encoding="utf-8") == "reviewed"
    assert not sandbox.store.objects("groups")


def test_an_output_file_in_a_read_only_folder_is_not_written(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = write_config(CONFIG)
    folder = tmp_path / "reviewed"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        out = folder / "plan.json"
        done = invoke(["--endpoint", sandbox.url, "plan", str(config), "--out", str(out)])
        assert done.exit_code == 1, done.output
        assert f"cannot write {out}: its folder is read-only; nothing was written" in done.stderr
        assert not out.exists()
    finally:
        folder.chmod(0o755)


def test_export_force_over_a_read_only_file_writes_nothing(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    sandbox.store.create("groups", {"externalId": "sales", "name": "Sales"})
    out = tmp_path / "config"
    out.mkdir()
    (out / "groups.yaml").write_text("konvsync: 1\ngroups: []\n", encoding="utf-8")
    (out / "groups.yaml").chmod(0o444)
    result = invoke(["--endpoint", sandbox.url, "export", "--out", str(out), "--force"])
    assert result.exit_code == 1, result.output
    assert "the file is read-only; nothing was written" in result.stderr, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["groups.yaml"]
    assert (out / "groups.yaml").read_text(encoding="utf-8") == "konvsync: 1\ngroups: []\n"
