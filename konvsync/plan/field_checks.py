"""Custom field values checked against the account fields at plan time: an
undefined key, a value the field's type or options refuse (for fields the
configuration does not define; the loader checks the others offline), or a
required field left without a value (in an account's ``customFields``, or in
an account to be created) are config problems (file:line) before anything is
sent, not failures halfway through an apply. The portal's account fields are
read whenever the configuration names accounts."""

from __future__ import annotations

from typing import Any

from konvsync.config.model import DesiredState
from konvsync.config.rules import map_value_source, retold_value_problem
from konvsync.config.substitution import in_a_key
from konvsync.errors import ConfigInvalid, ConfigProblem
from konvsync.kinds import KINDS, kind
from konvsync.kinds.base import Field, Kind, normalize_value, value_text
from konvsync.kinds.custom_values import checked_offline, fits_as_sent
from konvsync.plan.diff import pruned_keys
from konvsync.plan.remote import RemoteObject, RemoteState


def check_custom_fields(desired: DesiredState, remote: RemoteState) -> None:
    """Raise ``ConfigInvalid`` for custom field values the portal would refuse:
    of every map field whose keys name objects of another kind (``keys_ref``)."""
    problems: list[ConfigProblem] = []
    for k in KINDS:
        for f in k.fields:
            if f.keys_ref is not None and desired.objects.get(k.name):
                problems += _problems(desired, remote, k, f)
    if problems:
        raise ConfigInvalid(problems)


def _problems(desired: DesiredState, remote: RemoteState, k: Kind, f: Field) -> list[ConfigProblem]:
    definitions_kind = f.keys_ref or ""
    existing = remote.get(k.name).objects
    definitions: dict[str, dict[str, Any]] = {
        obj.key: obj.data
        for obj in remote.get(definitions_kind).referable().values()  # in scope or not
        if obj.key is not None
    }
    defined = desired.objects.get(definitions_kind, {})
    pruned = pruned_keys(kind(definitions_kind), desired, remote)
    ignored = desired.policy.ignore_changes.get(definitions_kind, frozenset())
    for obj in defined.values():
        portal = definitions.get(obj.key)
        if portal is None:  # created with what the config gives, defaults for the rest
            definitions[obj.key] = {**kind(definitions_kind).defaults, **obj.data}
            continue
        # A field the config omits, or whose changes it ignores, keeps the portal's value.
        given = {name: value for name, value in obj.data.items() if name not in ignored}
        definitions[obj.key] = {**portal, **given}
    problems: list[ConfigProblem] = []
    for account in desired.objects.get(k.name, {}).values():
        values = account.data.get(f.name)
        if values is None and account.filed_key not in existing:
            values = {}  # a create sends no values: required fields have none
        if not isinstance(values, dict):
            continue
        what = f"{k.singular} {account.path!r}"
        for key, value in values.items():
            definition = definitions.get(str(key))
            if str(key) in defined and checked_offline(defined[str(key)].data, ignored):
                continue  # checked offline by the loader
            where = map_value_source(account, f.name, key)
            if str(key) in pruned:
                problems.append(
                    where.problem(
                        f"{what}: custom field {key!r} is an {kind(definitions_kind).singular} "
                        "this plan deletes (policy.prune, and the configuration does not list "
                        "it): list it, protect it (policy.protect) or remove the value"
                    )
                )
                continue
            if definition is None:
                problems.append(
                    where.problem(
                        f"{what}: custom field {key!r} is defined neither in {definitions_kind} "
                        f"nor in the portal{in_a_key(str(key))}"
                    )
                )
                continue
            if value is None:
                continue
            text = value_text(value)
            ftype = str(definition.get("type") or "TEXT")
            written = None if isinstance(value, str) else desired.retold.get(where)
            retold = written and retold_value_problem(value, written, ftype)
            if retold:  # ``True`` for a TEXT field: "true" would be sent
                problems.append(where.problem(f"{what}: custom field {key!r} {retold}"))
                continue
            options = list(definition.get("options") or [])
            if not fits_as_sent(text, ftype, options):
                expected = (
                    f"one of {', '.join(options) or 'its options (it has none)'}"
                    if ftype == "SELECT"
                    else ftype
                )
                problems.append(
                    where.problem(
                        f"{what}: custom field {key!r} value {value!r} is not {expected} "
                        "(as the portal defines it)"
                    )
                )
        if _unchanged(f, values, existing.get(account.filed_key)):
            continue  # not written: the portal holds these values already
        # As sent: keys as text (``1:`` is the field "1"), a value blank once
        # trimmed as null, which leaves a required field without a value.
        sent = normalize_value(f, values)
        for key, definition in definitions.items():
            if key in pruned:
                continue  # deleted by this plan: values go with it (kept till then, plan.diff)
            if definition.get("required") and sent.get(key) is None:
                problems.append(
                    account.source.problem(
                        f"{what}: custom field {key!r} is required, and "
                        + (
                            f"{f.name} (the {k.singular}'s whole set) gives it no value"
                            if f.name in account.data
                            else f"the {k.singular} is created without {f.name}"
                        )
                    )
                )
    return problems


def _unchanged(f: Field, values: dict[Any, Any], current: RemoteObject | None) -> bool:
    """Whether the map ``values`` is what the portal holds for the object
    (so the plan does not write it): a field made required after the object
    was created leaves it without a value, and a plan that leaves the
    values alone is not refused for it."""
    return current is not None and normalize_value(f, values) == current.data.get(f.name)
