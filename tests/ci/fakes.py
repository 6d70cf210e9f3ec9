"""Fakes of what CI templates call beyond this machine: ``gh`` (GitHub CLI),
``curl`` (the GitLab API), ``pip`` and ``python3 -m venv``/``pip install``
(installing konvsync). Each is a small executable on PATH that appends what
it was asked to a JSON-lines log and answers from a JSON state file, which
it updates as the real service would (a created comment is listed next time).
``gh --jq`` is applied with the real ``jq``."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

_COMMON = r"""
import json, os, subprocess, sys
from urllib.parse import parse_qs, urlsplit

LOG = os.environ["FAKE_LOG"]
STATE = os.environ["FAKE_STATE"]


def record(entry):
    with open(LOG, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def load():
    with open(STATE, encoding="utf-8") as handle:
        return json.load(handle)


def save(state):
    with open(STATE, "w", encoding="utf-8") as handle:
        json.dump(state, handle)


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()
"""

GH = (
    _COMMON
    + r"""

def option(args, name, default=None):
    return args[args.index(name) + 1] if name in args else default


def emit(data, args):
    text = json.dumps(data)
    expression = option(args, "--jq")
    if expression is not None:
        text = subprocess.run(["jq", "-r", expression], input=text, capture_output=True,
                              text=True, check=True).stdout
        sys.stdout.write(text)
    else:
        print(text)


args = sys.argv[1:]
state = load()
entry = {"tool": "gh", "argv": args}
command = args[0]
if command == "api":
    method = option(args, "--method", "GET")
    path = next(a for a in args[1:] if not a.startswith("-") and args[args.index(a) - 1] not in
                ("--method", "--jq", "-F", "-f", "--field", "--raw-field"))
    fields = {}
    for flag in ("-F", "-f", "--field", "--raw-field"):
        for index, arg in enumerate(args):
            if arg == flag:
                key, _, value = args[index + 1].partition("=")
                from_file = flag in ("-F", "--field") and value.startswith("@")
                fields[key] = read(value[1:]) if from_file else value
    entry.update(method=method, path=path, fields=fields)
    record(entry)
    api = state.setdefault("api", {})
    if method == "GET":
        key = path.split("?")[0]
        if key not in api and not key.endswith("/comments"):
            print(f"gh: Not Found (HTTP 404) {path}", file=sys.stderr)
            sys.exit(1)
        emit(api.get(key, []), args)
    elif method == "POST" and path.endswith("/comments"):
        comment = {"id": 1000 + sum(len(v) for v in api.values() if isinstance(v, list)),
                   "body": fields["body"],
                   # what GitHub answers for a comment made with the workflow's token
                   "user": {"login": "github-actions[bot]", "type": "Bot"}}
        api.setdefault(path, []).append(comment)
        save(state)
        emit(comment, args)
    elif method == "PATCH" and "/issues/comments/" in path:
        comment_id = int(path.rsplit("/", 1)[1])
        for comments in api.values():
            for comment in comments if isinstance(comments, list) else []:
                if comment.get("id") == comment_id:
                    comment["body"] = fields["body"]
        save(state)
        emit({"id": comment_id}, args)
    else:
        print(f"fake gh: {method} {path} is not emulated", file=sys.stderr)
        sys.exit(2)
elif command in ("issue", "pr"):
    items = state.setdefault("issues" if command == "issue" else "pulls", [])
    action = args[1]
    body_file = option(args, "--body-file")
    if body_file:
        entry["body"] = read(body_file)
    record(entry)
    if action == "list":
        label, head = option(args, "--label"), option(args, "--head")
        found = [
            {"number": i["number"], "isCrossRepository": i.get("isCrossRepository", False)}
            for i in items
            if i["state"] == "open"
            and (label is None or label in i.get("labels", []))
            and (head is None or i.get("head") == head)
        ]
        emit(found, args)
    elif action == "create":
        number = 100 + len(items)
        items.append({"number": number, "state": "open", "title": option(args, "--title"),
                      "labels": [option(args, "--label")] if "--label" in args else [],
                      "head": option(args, "--head"), "base": option(args, "--base"),
                      "body": entry["body"]})
        save(state)
        print(f"https://github.example/{command}/{number}")
    elif action == "edit":
        for item in items:
            if item["number"] == int(args[2]):
                item["body"] = entry["body"]
        save(state)
    else:
        sys.exit(f"fake gh: {command} {action} is not emulated")
elif command == "label":
    record(entry)
else:
    record(entry)
    sys.exit(f"fake gh: {command} is not emulated")
"""
)

CURL = (
    _COMMON
    + r"""

args = sys.argv[1:]
method, data, output, url = "GET", None, None, None
index = 0
while index < len(args):
    arg = args[index]
    if arg in ("-X", "--request"):
        method = args[index + 1]; index += 2
    elif arg in ("-d", "--data"):
        data = args[index + 1]; index += 2
    elif arg in ("-o", "--output"):
        output = args[index + 1]; index += 2
    elif arg in ("-H", "--header"):
        index += 2
    elif arg.startswith("-"):
        index += 1
    else:
        url = arg; index += 1
parts = urlsplit(url)
path = parts.path.split("/api/v4", 1)[1]
query = {k: v[0] for k, v in parse_qs(parts.query).items()}
record({"tool": "curl", "method": method, "path": path, "query": query,
        "data": json.loads(data) if data else None, "output": output})
state = load()
api = state.setdefault("gitlab", {})
BOT = {"id": 4242, "username": "project_42_bot_konvsync"}  # KONVSYNC_BOT_TOKEN's user
if method == "GET":
    answer = api.get(path, BOT if path == "/user" else None)
    if answer is None and path.rsplit("/", 1)[1] in ("notes", "issues", "merge_requests"):
        answer = []  # an empty collection
    if answer is None:
        print(f"curl: (22) The requested URL returned error: 404 ({path})", file=sys.stderr)
        sys.exit(22)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(read(answer["file"]))
        sys.exit(0)
    if isinstance(answer, list):
        for key, value in query.items():
            if key in ("state", "source_branch"):
                answer = [a for a in answer if a.get(key) == value]
            if key == "labels":
                answer = [a for a in answer if value in a.get("labels", [])]
    print(json.dumps(answer))
    sys.exit(0)
payload = json.loads(data)
collection_path, _, item = path.rpartition("/")
if method == "POST":
    collection = api.setdefault(path, [])
    key = "id" if path.endswith("/notes") else "iid"
    created = {key: 500 + len(collection), "state": "opened", **payload}
    if path.endswith("/notes"):
        created["author"] = BOT
    if path.endswith("/merge_requests"):  # made in the project itself, from its branch
        project = int(path.split("/")[2])
        created.update(source_project_id=project, target_project_id=project)
    if isinstance(created.get("labels"), str):
        created["labels"] = created["labels"].split(",")
    collection.append(created)
    save(state)
    print(json.dumps(created))
elif method == "PUT":
    key = "id" if collection_path.endswith("/notes") else "iid"
    for existing in api.get(collection_path, []):
        if str(existing.get(key)) == item:
            existing.update(payload)
    save(state)
    print("{}")
else:
    sys.exit(f"fake curl: {method} is not emulated")
"""
)

PIP = (
    _COMMON
    + r"""
args = sys.argv[1:]
record({"tool": "pip", "argv": args})
if "install" in args:
    # "installs" the konvsync under test next to itself (the venv's bin, or PATH)
    target = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "konvsync")
    if not os.path.exists(target):
        os.symlink(os.environ["FAKE_KONVSYNC"], target)
"""
)

PYTHON3 = (
    _COMMON
    + r"""
args = sys.argv[1:]
if args[:2] == ["-m", "venv"]:
    # A "virtual environment" whose pip records what it would install and
    # whose konvsync is the one under test.
    record({"tool": "python3", "argv": args})
    bin_dir = os.path.join(args[2], "bin")
    os.makedirs(bin_dir, exist_ok=True)
    venv_python = os.path.join(bin_dir, "python")
    with open(venv_python, "w", encoding="utf-8") as handle:
        handle.write("#!" + sys.executable + "\n" + open(os.environ["FAKE_PIP_SOURCE"]).read())
    os.chmod(venv_python, 0o755)
    sys.exit(0)
os.execv(sys.executable, [sys.executable, *args])
"""
)


def install_fakes(bin_dir: Path, log: Path, state: Path, konvsync: Path) -> dict[str, str]:
    """Write the fakes into ``bin_dir``; return the environment they need."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    pip_source = bin_dir / "pip.py"
    pip_source.write_text(PIP)
    for name, source in (("gh", GH), ("curl", CURL), ("pip", PIP), ("python3", PYTHON3)):
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{source}")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    if not state.exists():
        write_state(state, {})
    return {
        "FAKE_LOG": str(log),
        "FAKE_STATE": str(state),
        "FAKE_KONVSYNC": str(konvsync),
        "FAKE_PIP_SOURCE": str(pip_source),
    }


def write_state(state: Path, data: dict[str, Any]) -> None:
    state.write_text(json.dumps(data))


def read_state(state: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(state.read_text())
    return loaded


def real_konvsync() -> Path:
    return Path(sys.executable).parent / "konvsync"


def base_path(bin_dir: Path) -> str:
    """PATH with the fakes first, and without this interpreter's bin folder
    (konvsync must come from the templates' install step)."""
    own = str(Path(sys.executable).parent)
    rest = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != own]
    return os.pathsep.join([str(bin_dir), *rest])
