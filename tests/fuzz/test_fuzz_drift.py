"""``drift --write`` on generated YAML texts against one sandbox: configs
close to the portal with values changed, objects left out or added, written
in every way YAML allows (line endings CRLF, CR or LF, a byte-order mark,
block and flow style, quoting, comments, a tab before a comment, anchors,
aliases and merge keys). It exits with a defined code and never an
"unexpected" error; it never writes a file that no longer validates (with
or without --allow-external-refs, as before); it writes nothing when it
fails or refuses; and afterwards drift shows only what it left as written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from konvsync.config.yaml_dump import flow
from konvsync.sandbox.server import SandboxSettings, running_sandbox
from konvsync.sandbox.store import Store
from tests.conftest import SECRET, invoke
from tests.fuzz.strategies import examples_for
from tests.fuzz.test_fuzz_validate import fuzz_settings, unfrozen

GROUPS = {
    "sales": {"name": "Sales", "permissions": ["VIEW_ACCOUNT_USERS"]},
    "support": {"name": "Support", "permissions": []},
    "ops": {"name": "Ops", "permissions": ["MANAGE_NEWS", "MANAGE_USERS"]},
}
ACCOUNTS = {
    "acme": {
        "name": "ACME",
        "userGroups": ["sales"],
        "customFields": {"tier": "gold"},
        "locations": [{"name": "HQ", "address": {"city": "Springfield", "country": "US"}}],
    },
    "globex": {"name": "Globex", "locations": [{"name": "Main", "phone": "+1 555 0100"}]},
}
USERS = {
    "x@acme.example": {"firstName": "X", "lastName": "Ex", "title": "VP", "groups": ["sales"]},
    "y@acme.example": {"firstName": "Y", "lastName": "Why", "account": "acme"},
    "z@acme.example": {"firstName": "Z", "lastName": "Zed", "groups": ["support", "ops"]},
}
KEYS = {"groups": "externalId", "accounts": "externalId", "users": "email"}
REQUIRED = {"name", "firstName", "lastName"}
PORTAL = {"groups": GROUPS, "accounts": ACCOUNTS, "users": USERS}


def _seed(store: Store) -> None:
    ids = {}
    for key, group in GROUPS.items():
        ids[key] = store.create("groups", {"externalId": key, **group})["id"]
    store.create(
        "accountFields",
        {"key": "tier", "label": "Tier", "type": "SELECT", "options": ["gold", "silver"]},
    )
    for key, account in ACCOUNTS.items():
        fields = {
            "externalId": key,
            "name": account["name"],
            "userGroupIds": [ids[g] for g in account.get("userGroups", [])],
            "customFields": [
                {"key": k, "value": v} for k, v in account.get("customFields", {}).items()
            ],
        }
        row = store.create("accounts", fields)
        ids[key] = row["id"]
        for location in account["locations"]:
            store.create("locations", location, parent_id=row["id"])
    for email, user in USERS.items():
        fields = {
            "email": email,
            **{k: v for k, v in user.items() if k not in ("groups", "account")},
        }
        fields["groupIds"] = [ids[g] for g in user.get("groups", [])]
        if "account" in user:
            fields["accountId"] = ids[user["account"]]
        store.create("users", fields, options={"sendWelcomeEmail": False})


# --------------------------------------------------------------- documents


TEXT = st.sampled_from(
    ["Changed", "yes", "a: b", "#1", "x\ty", "'q'", "${env:HOME}", "é\u202e", " pad", "1.5", "~"]
)
OTHER = {
    "permissions": st.lists(
        st.sampled_from(["VIEW_ACCOUNT_USERS", "MANAGE_NEWS", "MANAGE_USERS"]), unique=True
    ),
    "groups": st.lists(st.sampled_from(["sales", "support", "ops"]), unique=True),
    "userGroups": st.lists(st.sampled_from(["sales", "support", "ops"]), unique=True),
    "account": st.sampled_from(["acme", "globex", None]),
    "customFields": st.fixed_dictionaries({"tier": st.sampled_from(["gold", "silver", None])}),
    "locations": st.lists(
        st.fixed_dictionaries(
            {"name": st.sampled_from(["HQ", "Main", "Annex"])},
            optional={"phone": TEXT, "address": st.fixed_dictionaries({"city": TEXT})},
        ),
        max_size=2,
        unique_by=lambda location: location["name"],
    ),
    "title": st.one_of(TEXT, st.none()),
}
"""Other values each field may have in the configuration (drift)."""


@st.composite
def _value(draw: st.DrawFn, name: str, value: Any) -> Any:
    """The portal's value, or another one (drift), often the same."""
    if draw(st.integers(0, 3)):
        return value
    return draw(OTHER.get(name, TEXT))


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = {"konvsync": 1}
    prune = draw(st.lists(st.sampled_from(["groups", "users", "accounts"]), unique=True))
    if prune:
        document["policy"] = {"prune": prune}
    for kind_name, objects in PORTAL.items():
        if not draw(st.integers(0, 4)):
            continue
        entries = []
        for key, fields in objects.items():
            if not draw(st.integers(0, 4)):
                continue  # left out: created in the portal (if pruned)
            entry = {KEYS[kind_name]: key}
            for name, value in fields.items():
                if name in REQUIRED or draw(st.integers(0, 5)):
                    entry[name] = draw(_value(name, value))
            entries.append(entry)
        if draw(st.integers(0, 3)) == 0:  # not in the portal: deleted there
            extra = {"groups": {"externalId": "gone", "name": "Gone"}}
            extra["users"] = {"email": "gone@acme.example", "firstName": "G", "lastName": "One"}
            extra["accounts"] = {"externalId": "gone", "name": "Gone"}
            entries.append(extra[kind_name])
        document[kind_name] = entries
    return document


# ------------------------------------------------------------------- texts


class _Writer:
    """Writes a document as YAML text, drawing every choice of style."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.anchors = 0

    def scalar(self, value: Any) -> str:
        style = self.draw(st.sampled_from([None, None, "'", '"']))
        return flow(value, style)

    def inline(self, value: Any) -> str:
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k}: {self.inline(v)}" for k, v in value.items()) + "}"
        if isinstance(value, list):
            return "[" + ", ".join(self.inline(v) for v in value) + "]"
        return self.scalar(value)

    def comment(self) -> str:
        return self.draw(st.sampled_from(["", "", "  # note", "\t# tab before", " #"]))

    def mapping(self, value: dict[str, Any], indent: int, first: str = "") -> list[str]:
        """Block lines of a mapping; ``first`` leads its first line (``- ``)."""
        lines: list[str] = []
        pad = " " * indent
        for index, (name, item) in enumerate(value.items()):
            lead = (first or pad) if index == 0 else pad
            if isinstance(item, (dict, list)) and item and self.draw(st.booleans()):
                lines.append(f"{lead}{name}:{self.comment()}")
                lines += self.block(item, indent + 2)
            else:
                lines.append(f"{lead}{name}: {self.inline(item)}{self.comment()}")
            if self.draw(st.integers(0, 9)) == 0:
                lines.append(f"{pad}# a comment line")
        return lines

    def block(self, value: Any, indent: int) -> list[str]:
        pad = " " * indent
        if isinstance(value, dict):
            return self.mapping(value, indent)
        lines: list[str] = []
        for item in value:
            if isinstance(item, dict) and item and self.draw(st.booleans()):
                lines += self.mapping(item, indent + 2, f"{pad}- ")
            else:
                lines.append(f"{pad}- {self.inline(item)}{self.comment()}")
        return lines

    def objects(self, kind_name: str, entries: list[dict[str, Any]]) -> list[str]:
        if self.draw(st.integers(0, 5)) == 0:
            return [f"{kind_name}: {self.inline(entries)}"]
        lines = [f"{kind_name}:"]
        indent = self.draw(st.sampled_from([0, 2, 4]))
        pad = " " * indent
        shared: dict[str, Any] | None = None
        for entry in entries:
            if shared is not None and kind_name == "users" and self.draw(st.booleans()):
                # Merged: the fields of the anchored user, then its own.
                own = {
                    k: v
                    for k, v in entry.items()
                    if k in ("email", "firstName") or v != shared.get(k)
                }
                lines.append(f"{pad}- <<: *u{self.anchors}")
                lines += self.mapping(own, indent + 2, f"{pad}  ")
                continue
            if kind_name == "users" and shared is None and self.draw(st.booleans()):
                self.anchors += 1
                shared = entry
                lines.append(f"{pad}- &u{self.anchors}")
                lines += self.mapping(entry, indent + 2, f"{pad}  ")
                continue
            if self.draw(st.integers(0, 3)) == 0:
                lines.append(f"{pad}- {self.inline(entry)}{self.comment()}")
            else:
                lines += self.mapping(entry, indent + 2, f"{pad}- ")
        return lines


@st.composite
def texts(draw: st.DrawFn) -> str:
    document = draw(documents())
    writer = _Writer(draw)
    lines = ["# generated", "konvsync: 1"]
    if "policy" in document:
        lines.append(f"policy: {writer.inline(document['policy'])}")
    for kind_name in ("groups", "accounts", "users"):
        if kind_name in document:
            lines += writer.objects(kind_name, document[kind_name])
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    bom = "\ufeff" if draw(st.integers(0, 4)) == 0 else ""
    return bom + newline.join(lines) + newline


# ------------------------------------------------------------------- test


def _addresses(items: list[dict[str, Any]]) -> set[str]:
    return {
        f"{d['kind']}/{d['parent']}/{d['key']}" if "parent" in d else f"{d['kind']}/{d['key']}"
        for d in items
    }


def _check(sandbox_url: str, path: Path, text: str, unmanaged: bool) -> int:
    path.write_bytes(text.encode("utf-8"))
    strict = invoke(["validate", str(path)]).exit_code == 0
    lenient = invoke(["validate", str(path), "--allow-external-refs"]).exit_code == 0
    extra = ["--include-unmanaged"] if unmanaged else []
    args = ["--endpoint", sandbox_url, "drift", str(path), *extra, "--format", "json"]
    result = invoke([*args, "--write"])
    unfrozen()
    shown = (text, result.output[-3000:])
    assert result.exit_code in (0, 1, 2, 3), shown
    assert "Error: unexpected" not in result.output and "Traceback" not in result.output, shown
    assert SECRET not in result.output
    after = path.read_bytes().decode("utf-8")
    if result.exit_code in (1, 3):
        assert after == text, shown  # nothing written
        return result.exit_code
    if after != text:
        if strict:
            assert invoke(["validate", str(path)]).exit_code == 0, (shown, after)
        if lenient:
            check = invoke(["validate", str(path), "--allow-external-refs"])
            assert check.exit_code == 0, (shown, after, check.output)
    kept = {k["address"] for k in json.loads(result.stdout)["written"]["kept"]}
    again = invoke(args)
    assert again.exit_code in (0, 2), (shown, after, again.output)
    left = _addresses(json.loads(again.stdout)["drift"]) if again.exit_code == 2 else set()
    assert left <= kept, (shown, after, left - kept)
    return result.exit_code


def test_drift_write_on_generated_texts_never_breaks_the_config(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    path = tmp_path_factory.mktemp("fuzz-drift") / "konvsync.yaml"
    codes: list[int] = []
    with running_sandbox(SandboxSettings(port=0, db=":memory:")) as sandbox:
        _seed(sandbox.store)

        @fuzz_settings(0.1)
        @given(texts(), st.booleans())
        def run(text: str, unmanaged: bool) -> None:
            codes.append(_check(sandbox.url, path, text, unmanaged))

        run()
    assert len(codes) >= examples_for(0.1) * 0.9
    assert 2 in codes  # drift was found and written
