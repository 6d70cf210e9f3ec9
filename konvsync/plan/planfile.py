"""Saved plans: what was reviewed, so that exactly that is applied.

The file holds the plan's data (changes with before/after), the config
digest, the kinds read, and a digest of every remote object the plan
touches. No secret or token is ever in it: none is in the plan's data, and
a sensitive value (an invite code) is kept as the ``${env:NAME}`` it came
from and a salted digest; ``apply`` reads the variable again and refuses
when its value is not the planned one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, cast

import fastjsonschema

from konvsync import __version__
from konvsync.config import fast_schema
from konvsync.config.documents import TOO_DEEP
from konvsync.config.model import Policy
from konvsync.config.scope import parse_scope
from konvsync.errors import ConfigError, StalePlanError
from konvsync.kinds import KINDS_BY_NAME, kind, references
from konvsync.kinds.address import Address, ObjectKey
from konvsync.plan.changes import (
    Change,
    Create,
    Delete,
    Plan,
    Refusal,
    RefusalCheck,
    Update,
    change_from_data,
    saved_key,
)
from konvsync.plan.outside import concern_from_data, unnamed
from konvsync.plan.planner import PlanOutcome, remote_digests
from konvsync.plan.remote import RemoteObject, RemoteState
from konvsync.plan.scope import TAKEN_SHOWN, concerns_outside
from konvsync.plan.sensitive import restored, saved_references, unmatched
from konvsync.support.files import write_files
from konvsync.support.resources import json_schema
from konvsync.support.text import listed, shortened

PLANFILE_FORMAT = "konvsync-plan/4"
"""2: what it keeps per object is filed by ``saved_key``, not the displayed address.
3: the plan keeps what its warnings about objects outside the scope concern
(``outside``), in full: a plan of 2 would be stale for every one of them.
4: a sensitive value's digest is a costly one (scrypt), not an HMAC: a plan
of 3 would say that every variable changed since it was made."""


@dataclass
class SavedPlan:
    plan: Plan
    endpoint: str
    config_digest: str
    read_kinds: list[str]
    remote_digests: dict[str, str | None]
    send_welcome_email: bool
    sensitive: dict[str, Any] | None = None
    """The variables and salted digests of its sensitive values (shown as
    ``(sensitive)`` in ``plan``)."""

    def with_sensitive_values(self) -> Plan:
        """The plan with its sensitive values read again from the environment,
        as ``apply`` needs them; refuses (``SavedPlanStale``, exit 3: shown and
        reported with the plan, as a plan the portal moved away from) when one
        is unset or changed."""
        try:
            changes = restored(self.plan.changes, self.sensitive)
        except StalePlanError as stale:
            raise SavedPlanStale(str(stale), self.plan) from None
        return replace(self.plan, changes=changes)


def write_planfile(
    path: str,
    outcome: PlanOutcome,
    config_digest: str,
    policy: Policy,
    sensitive_env: dict[tuple[str, ObjectKey, str], str] | None = None,
) -> None:
    """Save the plan; its sensitive values as the variables they came from
    and salted digests (``plan.sensitive``)."""
    document = {
        "planfile": PLANFILE_FORMAT,
        "konvsync_version": __version__,
        "config_digest": config_digest,
        "read_kinds": outcome.read_kinds,
        "send_welcome_email": policy.send_welcome_email,
        "remote_digests": remote_digests(outcome.plan.changes, outcome.remote),
        "sensitive": saved_references(outcome.plan.changes, sensitive_env or {}),
        "plan": outcome.plan.data,
    }
    text = json.dumps(document, indent=2, sort_keys=False, default=str) + "\n"
    write_files({Path(path): text})


def as_shown(outcome: PlanOutcome, endpoint: str) -> SavedPlan:
    """The plan ``apply`` showed before its prompt, kept as a saved plan
    keeps it (what it read of the objects it changes), for ``check_fresh``
    once the user has answered."""
    return SavedPlan(
        outcome.plan,
        endpoint,
        "",
        outcome.read_kinds,
        remote_digests(outcome.plan.changes, outcome.remote),
        send_welcome_email=False,
    )


def is_planfile(path: str) -> bool:
    candidate = Path(path)
    if not candidate.is_file() or candidate.suffix in (".yaml", ".yml"):
        return False
    try:
        with candidate.open("rb") as handle:
            head = handle.read(64)
    except OSError:
        return False
    return head.lstrip().startswith(b"{")


def _refuse_constant(name: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity``, which Python's json reads and
    no JSON has: konvsync never writes them (the contract has no Float), and
    a request would carry them as no portal reads them (``api.wire_json``)."""
    raise ValueError(f"{name} is not JSON")


def read_planfile(path: str) -> SavedPlan:
    try:
        text = Path(path).read_text(encoding="utf-8")
        document: dict[str, Any] = json.loads(text, parse_constant=_refuse_constant)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: valid JSON, nested deeper than Python's json reads
        raise ConfigError(f"{path}: not a readable konvsync plan file") from exc
    if not isinstance(document, dict) or "planfile" not in document:
        raise ConfigError(f"{path}: not a konvsync plan file (made by 'konvsync plan --out')")
    if document.get("planfile") != PLANFILE_FORMAT:
        _check_named(path, "planfile", document.get("planfile"))
        raise StalePlanError(
            f"{path}: plan file format {shortened(repr(document.get('planfile')))} is not "
            f"{PLANFILE_FORMAT!r} (made by another konvsync release); "
            "run plan again"
        )
    data = document.get("plan")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: damaged konvsync plan file (plan: not an object); run plan again"
        )
    if data.get("format_version") != Plan.FORMAT_VERSION:
        version = data.get("format_version")
        _check_named(path, "plan/format_version", version)
        raise StalePlanError(
            f"{path}: plan format_version {shortened(repr(version))} is "
            "not supported by this release; run plan again"
        )
    _check_plan_shape(path, data)
    _check_kept_shape(path, document)
    try:
        plan = Plan(
            changes=[change_from_data(c) for c in data["changes"]],
            endpoint=data["endpoint"],
            portal=data.get("portal"),
            warnings=list(data.get("warnings", [])),
            welcome_emails=data.get("welcome_emails", 0),
            scope=parse_scope(data.get("scope")),
            outside=[concern_from_data(c) for c in data.get("outside", [])],
        )
        saved = SavedPlan(
            plan,
            data["endpoint"],
            document["config_digest"],
            document["read_kinds"],
            document["remote_digests"],
            bool(document.get("send_welcome_email", True)),
            document.get("sensitive"),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: damaged konvsync plan file (missing {exc})") from None
    misfit = unmatched(plan.changes, document.get("sensitive"))
    if misfit is not None:
        raise ConfigError(f"{path}: damaged konvsync plan file ({misfit}); run plan again")
    return saved


def _check_named(path: str, where: str, version: Any) -> None:
    """A format or version another release wrote is a name (a string); any
    other value is a damaged file (exit 1), not a stale one (exit 3)."""
    if not isinstance(version, str):
        raise ConfigError(
            f"{path}: damaged konvsync plan file ({where}: {shortened(repr(version))} is not "
            "a format name); run plan again"
        )


def _check_plan_shape(path: str, data: dict[str, Any]) -> None:
    """The saved plan as ``schemas/plan.schema.json`` describes it, or a
    ConfigError naming the first place where it is not (an edited file)."""
    if _fits(_plan_checker(), data):
        return
    error = _first_misfit(json_schema("plan.schema.json"), data)
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top)"
        raise ConfigError(
            f"{path}: damaged konvsync plan file (plan/{where}: {error.message}); run plan again"
        )


Check = Callable[[Any], None]
"""A fastjsonschema check: returns, or raises ``JsonSchemaException``."""


def _fits(check: Check, document: Any) -> bool:
    """Whether ``document`` fits, by fastjsonschema's code: it clears a plan
    file that fits quickly, and jsonschema (``_first_misfit``) explains one
    that does not. jsonschema alone took 0.7 s of CPU to walk the plan of a
    10,000-user cold apply (12,100 changes), this check 24 ms (compiled once
    per run in 21 ms); a document it refuses, jsonschema decides on.

    Code of fastjsonschema's that fails otherwise leaves the verdict to
    jsonschema as well: its ``uniqueItems`` recurses into the items before it
    checks their type, and ran out of stack on a nested list that jsonschema
    names as an item that is no string."""
    try:
        check(document)
    except Exception:  # JsonSchemaException, or its code failing (RecursionError)
        return False
    return True


@cache
def _plan_checker() -> Check:
    """The plan schema's check, in parts (``fast_schema.in_parts``): each
    change on its own, as the config's objects are (the schema compiled
    whole took 70 ms for those 12,100 changes)."""
    return fast_schema.in_parts(*fast_schema.compiled(json_schema("plan.schema.json")))


@cache
def _kept_checker() -> Check:
    return cast(Check, fastjsonschema.compile(_kept_quick_schema()))


def _kept_quick_schema() -> dict[str, Any]:
    """``_KEPT_SCHEMA`` as fastjsonschema's drafts (4, 6, 7) read it: they pass
    over ``dependentRequired``, so its rule is given as the ``if``/``then`` of
    draft 7 that says the same; jsonschema keeps the rule as written, and
    its words for it ("'salt' is a dependency of 'values'")."""
    quick = copy.deepcopy(_KEPT_SCHEMA)  # (fastjsonschema edits what it is given)
    sensitive = quick["properties"]["sensitive"]
    for name, needed in sensitive.pop("dependentRequired").items():
        sensitive.setdefault("allOf", []).append(
            {"if": {"required": [name]}, "then": {"required": needed}}
        )
    return quick


def _first_misfit(schema: dict[str, Any], document: Any) -> Any:
    """jsonschema's best match of where ``document`` does not fit ``schema``
    (a ``ValidationError``), or None. Only a saved plan that fastjsonschema
    refused needs jsonschema (21 ms of imports, python -X importtime).
    A document nested too deeply for jsonschema's checks (lists where names
    must differ, compared item by item recursively) misfits at its top."""
    import jsonschema

    try:
        return jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(schema).iter_errors(document)
        )
    except RecursionError:
        return jsonschema.ValidationError(TOO_DEEP)


_KEPT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["config_digest", "read_kinds", "remote_digests"],
    "properties": {
        "config_digest": {"type": "string"},
        "read_kinds": {"type": "array", "uniqueItems": True, "items": {"type": "string"}},
        "remote_digests": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
        "send_welcome_email": {"type": "boolean"},
        "sensitive": {
            "type": "object",
            "properties": {
                "salt": {"type": "string"},
                "values": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "required": ["env", "digest"],
                            "properties": {"env": {"type": "string"}, "digest": {"type": "string"}},
                        },
                    },
                },
            },
            "dependentRequired": {"values": ["salt"]},  # (see _kept_quick_schema)
        },
    },
}
"""What a plan file keeps beside the plan, as ``write_planfile`` writes it."""


def _check_kept_shape(path: str, document: dict[str, Any]) -> None:
    """What the file keeps beside the plan (the kinds read, the digests of
    the objects touched, the sensitive values' variables) as ``write_planfile``
    writes it, or a ConfigError naming the first place where it is not: an
    edited file is damaged, not an unexpected error halfway through apply."""
    error = None if _fits(_kept_checker(), document) else _first_misfit(_KEPT_SCHEMA, document)
    if error is None:
        unknown = [name for name in document["read_kinds"] if name not in KINDS_BY_NAME]
        if not unknown:
            return
        where, message = "read_kinds", f"{unknown[0]!r} is not a kind"
    else:
        where = "/".join(str(part) for part in error.absolute_path) or "(top)"
        message = error.message
    raise ConfigError(f"{path}: damaged konvsync plan file ({where}: {message}); run plan again")


class SavedPlanStale(StalePlanError):
    """The portal moved since the saved ``plan`` was made (exit 3); the
    plan comes along so that it can be shown with the reason."""

    def __init__(self, message: str, plan: Plan) -> None:
        super().__init__(message)
        self.plan = plan

    @property
    def refused_plan(self) -> Plan:
        return replace(self.plan, refused=Refusal(RefusalCheck.STALE_PLAN, str(self), {}))


def check_endpoint(saved: SavedPlan, endpoint_name: str, again: str = "run plan again") -> None:
    """Refuse (SavedPlanStale) a plan made for another endpoint: before
    anything connects to this one (it may be down, or ``sandbox``, which
    makes a local file), and again with what the portal read shows."""
    if saved.endpoint != endpoint_name:
        raise SavedPlanStale(
            f"stale plan: it was made for endpoint {saved.endpoint!r}, not "
            f"{endpoint_name!r}; {again}",
            saved.plan,
        )


def check_fresh(
    saved: SavedPlan, endpoint_name: str, remote: RemoteState, again: str = "run plan again"
) -> None:
    """Refuse (SavedPlanStale) if the portal moved since the plan was made;
    ``again``: what the message tells to do about it."""
    check_endpoint(saved, endpoint_name, again)
    if saved.plan.portal is not None and remote.portal_name != saved.plan.portal:
        raise SavedPlanStale(
            f"stale plan: it was made for portal {saved.plan.portal!r}, the "
            f"endpoint serves {remote.portal_name!r}; {again}",
            saved.plan,
        )
    # Keys the plan brings into the portal: of objects it creates or adopts
    # (an adopted object is checked as unchanged like any other it updates).
    created = {
        change.address
        for change in saved.plan.changes
        if isinstance(change, Create) or (isinstance(change, Update) and change.adopt)
    }
    outside: dict[str, dict[ObjectKey, RemoteObject]] = {}
    for change in saved.plan.changes:
        moved = _moved(change, saved.remote_digests.get(saved_key(change)), remote)
        moved = moved or _taken_outside(change, remote, outside)
        moved = moved or _reference_gone(change, created, remote)
        if moved:
            raise SavedPlanStale(f"stale plan: {change.address} {moved}; {again}", saved.plan)
    _check_outside_unchanged(saved.plan, remote, again)


def _check_outside_unchanged(plan: Plan, remote: RemoteState, again: str) -> None:
    """Refuse (SavedPlanStale) a plan whose changes now concern an object
    outside its scope that the plan did not name, or in a way it did not
    say (another team put its user in an account the plan deletes since):
    what was reviewed is what the warnings concerned, and an object outside
    the scope is never changed unseen. Fewer objects concerned than the
    plan named (one fixed its value, as the warning advised) is not stale:
    each is compared with the plan's, never the warnings' texts (their
    counts, the few names they show)."""
    if not plan.scope:
        return
    for concern in concerns_outside(plan.changes, remote, remote):
        new = unnamed(plan.outside, concern)
        if new == []:
            continue
        said = concern.warning.split("; ")[0]
        raise SavedPlanStale(
            f"stale plan: {said}, which the plan did not say; {again}"
            if new is None
            else f"stale plan: {said}, of which the plan did not name "
            f"{listed(new, TAKEN_SHOWN)}; {again}",
            plan,
        )


def _moved(change: Change, digest: str | None, remote: RemoteState) -> str | None:
    """How the object of ``change`` differs from what the plan saw, or None."""
    if change.remote_id is None:
        found = remote.lookup(change.address)
        # Nothing tells a create made since from one the plan's read missed.
        return None if found is None else f"exists in the portal (ID {found.id}), {UNSEEN}"
    current = remote.find(change.kind, change.remote_id)
    return (
        "changed since the plan was made" if current is None or current.digest != digest else None
    )


def _taken_outside(
    change: Change, remote: RemoteState, outside: dict[str, dict[ObjectKey, RemoteObject]]
) -> str | None:
    """Whether the key ``change`` brings into the portal (a create's, a
    rename's new one) is one that portal-wide unique keys of its kind have
    outside the scope now (another configuration took it since): the portal
    would refuse it, as ``plan.scope.check_owned`` does at plan time.
    ``outside``: each kind's objects outside the scope by key, made once."""
    brings = change.remote_id is None or (
        isinstance(change, Update) and change.renamed_from is not None
    )
    if not brings or change.address.parent is not None or not kind(change.kind).unique_key:
        return None
    by_key = outside.get(change.kind)
    if by_key is None:
        by_key = outside[change.kind] = remote.get(change.kind).outside_by_key()
    there = by_key.get(change.address.key)
    return (
        None
        if there is None
        else f"exists in the portal outside policy.scope (ID {there.id}), {UNSEEN}"
    )


def _reference_gone(change: Change, created: set[Address], remote: RemoteState) -> str | None:
    """The first object ``change`` refers to that the portal no longer has
    (and the plan does not create), or None: sent anyway, the change could
    not be built, and another apply of the same file would meet it again.
    Only kinds the plan read are judged (the parent link is the change's own
    address)."""
    if isinstance(change, Delete):
        return None
    for ref in references(kind(change.kind), change.after or {}, include_parent=False):
        if (
            ref.target.name not in remote.kinds
            or ref.key in remote.get(ref.target.name).referable()
        ):
            continue
        if ref.target.address(ref.key) in created:
            continue
        return f"refers to {ref.target.singular} {ref.written!r}, which the portal no longer has"
    return None


UNSEEN = "which the plan did not see: created since, or missed by the plan's read"
"""Why an object the plan creates may exist by now."""
