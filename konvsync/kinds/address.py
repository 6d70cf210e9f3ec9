"""Where an object lives: its kind, its natural key and, for a kind held by
another (a location in its account), the parent's address.

Keys are never parsed out of a display string: an account ``dealers/east``
and its location ``HQ`` are ``Address("locations", "HQ",
Address("accounts", "dealers/east"))``, shown as ``locations/dealers/east/HQ``
only in output.
"""

from __future__ import annotations

from typing import NamedTuple, TypeAlias


class Address(NamedTuple):
    """A tuple underneath: every object's address is hashed and compared
    many times a run (sets of what was sent, done and made; IDs by
    address), and a tuple's hash and ``==`` run in C. As a frozen dataclass,
    a look-up by a new address took twice as long (1.0 against 0.5 µs) and
    a hash 3.6 times (0.22 against 0.06 µs); a cold apply of 10,000 users
    ran 2.2 % more instructions with it. An address equals no key: it has three
    parts, an ``ObjectKey`` one or two."""

    kind: str
    key: str
    """The natural key, within the parent for a child kind."""
    parent: Address | None = None

    @property
    def path(self) -> str:
        """The keys from the top, joined for display: ``dealers/east/HQ``."""
        return f"{self.parent.path}/{self.key}" if self.parent is not None else self.key

    def __str__(self) -> str:
        return f"{self.kind}/{self.path}"

    @property
    def parts(self) -> tuple[str, ...]:
        """The kind, then each key from the top, whole: unlike ``str()``,
        never the same for two objects (``locations``, ``a/b``, ``c``)."""
        keys: list[str] = []
        address: Address | None = self
        while address is not None:
            keys.insert(0, address.key)
            address = address.parent
        return (self.kind, *keys)


ObjectKey: TypeAlias = str | tuple[str, str]
"""How an object is filed within its kind: its natural key, or for a child
kind the pair (its parent's key, its own key). Keys are never joined: an
account ``a/b`` with location ``c`` and an account ``a`` with location
``b/c`` are ``("a/b", "c")`` and ``("a", "b/c")``."""


def object_key(key: str, parent: str | None) -> ObjectKey:
    """The key an object of ``key`` (and ``parent``, for a child kind) is filed under."""
    return key if parent is None else (parent, key)


def key_path(key: str, parent: str | None) -> str:
    """The keys joined for display only (``dealers/east/HQ``); never parsed."""
    return key if parent is None else f"{parent}/{key}"


class RemoteRef(str):
    """A reference to a portal object that has no natural key (a keyless
    group a user belongs to). It is a string so that normalized data stays
    comparable and serializable, shown as ``<id grp_3>``; it never equals a
    configured key. Code asks ``isinstance(value, RemoteRef)``, never looks
    at the text."""

    remote_id: str

    def __new__(cls, remote_id: str) -> RemoteRef:
        ref = super().__new__(cls, f"<id {remote_id}>")
        ref.remote_id = remote_id
        return ref

    def __getnewargs__(self) -> tuple[str]:
        return (self.remote_id,)  # copies and pickles are made from the ID


def holds_remote_ref(value: object) -> bool:
    """Whether normalized ``value`` (scalar, list or map) refers to a keyless object."""
    if isinstance(value, RemoteRef):
        return True
    if isinstance(value, dict):
        return any(holds_remote_ref(v) for v in value.values())
    if isinstance(value, list):
        return any(holds_remote_ref(v) for v in value)
    return False
