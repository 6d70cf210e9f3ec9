"""An edited configuration, checked before a byte of it is written: it loads
(every check of the loader, on the edited texts), and it differs from the
configuration as read only by what ``--write`` accepted: an object it did not
edit is as it was (an edit that reached it through an anchor would show
here), a field it accepted now matches the portal, an object it removed or
added is gone or there and asks nothing of the portal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from konvsync.config.loader import load_config
from konvsync.config.model import DesiredObject, DesiredState
from konvsync.errors import ConfigError, ConfigInvalid, OutputError
from konvsync.kinds import KINDS, kind
from konvsync.kinds.address import Address
from konvsync.plan.changes import Update
from konvsync.plan.diff import diff_state
from konvsync.plan.remote import RemoteState


@dataclass
class Accepted:
    """What ``--write`` changed in the configuration."""

    fields: dict[Address, set[str]] = field(default_factory=dict)
    removed: set[Address] = field(default_factory=set)
    added: set[Address] = field(default_factory=set)
    strict: bool = True
    """The configuration defines every key it refers to; so must the edits."""


def refers_within(desired: DesiredState) -> bool:
    """Whether every reference and custom field of the configuration names
    a key it defines (reference kinds aside: those are the portal's)."""
    if any(not ref.target.reference for _obj, ref in desired.external_references or ()):
        return False
    return not any(
        isinstance(values := obj.data.get(f.name), dict)
        and any(str(key) not in desired.objects.get(f.keys_ref or "", {}) for key in values)
        for k in KINDS
        for f in k.fields
        if f.keys_ref
        for obj in desired.objects.get(k.name, {}).values()
    )


def check_edited(
    paths: Sequence[str],
    desired: DesiredState,
    remote: RemoteState,
    changed: dict[str, str],
    accepted: Accepted,
) -> None:
    """Raise ``OutputError`` (nothing is written then) unless the edited
    files (path -> new text) say what ``accepted`` says and nothing else."""
    edited = {path: text.encode("utf-8") for path, text in changed.items()}
    try:
        after = load_config(paths, allow_external_refs=not accepted.strict, edited=edited)
    except ConfigInvalid as exc:
        raise _refused(f"leave the configuration invalid ({exc.problems[0]})") from None
    except ConfigError as exc:
        raise _refused(f"leave the configuration unreadable ({exc})") from None
    if after.files != desired.files:
        raise _refused("find other files than were read (the folder changed meanwhile)")
    for kind_name in desired.objects.keys() | after.objects.keys():
        before_objects = desired.objects.get(kind_name, {})
        after_objects = after.objects.get(kind_name, {})
        for key in before_objects.keys() | after_objects.keys():
            problem = _problem(before_objects.get(key), after_objects.get(key), accepted)
            if problem:
                raise _refused(problem)
    for change in diff_state(after, remote):
        fields = accepted.fields.get(change.address, set())
        if change.address in accepted.added or change.address.parent in accepted.added:
            raise _refused(f"add {change.address}, which apply would then change in the portal")
        if isinstance(change, Update) and fields & set(change.changed_fields()):
            still = ", ".join(sorted(fields & set(change.changed_fields())))
            raise _refused(f"leave {change.address} {still} other than the portal's")


def _problem(
    before: DesiredObject | None, after: DesiredObject | None, accepted: Accepted
) -> str | None:
    obj = before or after
    assert obj is not None
    address = kind(obj.kind).address(obj.key, obj.parent)
    # An account's locations go and come with it.
    if address in accepted.removed or address.parent in accepted.removed:
        return None if after is None else f"keep {address}, which it removes"
    if address in accepted.added or address.parent in accepted.added:
        return None if before is None and after else f"not add {address}"
    if before is None or after is None:
        return f"{'add' if before is None else 'remove'} {address}, which it did not mean to"
    # Its values apart from the accepted fields and its children (objects too).
    skip = accepted.fields.get(address, set()) | {k.name for k in KINDS if k.parent}
    own = [{n: v for n, v in o.data.items() if n not in skip} for o in (before, after)]
    if own[0] != own[1]:
        return f"also change {address} (a value shared through an anchor?)"
    return None


def _refused(what: str) -> OutputError:
    return OutputError(f"drift --write would {what}; nothing was written")
