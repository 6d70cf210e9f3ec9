"""``konvsync sandbox --seed FILE``: initial data from a konvsync config,
turned into mutation inputs exactly as ``apply`` does, for a new sandbox
only, and all of it or nothing. It lives outside the
sandbox package, which knows nothing of configs or plans."""

from __future__ import annotations

from konvsync.config.loader import load_config
from konvsync.errors import ConfigError
from konvsync.kinds import KINDS_BY_NAME, WRITABLE_KINDS
from konvsync.sandbox.store import Store, StoreError


def seed_new_store(store: Store, path: str, db: str) -> int:
    """``seed_store`` into the new sandbox kept in ``db``: one that already
    holds objects is refused, whatever they are."""
    if any(store.count(k.name) for k in WRITABLE_KINDS):
        raise ConfigError(
            f"{path}: cannot seed the sandbox: {db} already holds data (--seed fills a "
            "new sandbox): delete the file to start over, or give another --db"
        )
    return seed_store(store, path)


def seed_store(store: Store, path: str) -> int:
    """Create every object of the config at ``path``, in one transaction;
    return how many."""
    state = load_config(path, allow_external_refs=False)
    ids: dict[tuple[str, str], str] = {}

    def resolve(kind_name: str, key: str) -> str:
        if (kind_name, key) not in ids and KINDS_BY_NAME[kind_name].reference:
            found = store.get(kind_name, key=key)
            if found is None:
                raise StoreError(f"no {kind_name} with key {key!r}", "BAD_USER_INPUT")
            ids[kind_name, key] = found["id"]
        return ids[kind_name, key]

    try:
        with store.request():  # one transaction: a failure rolls back the whole seed
            for k in WRITABLE_KINDS:
                for obj in state.objects.get(k.name, {}).values():
                    data = k.build_input(k.normalize_desired(obj.data, keep_case=True), resolve)
                    parent = resolve(k.parent, obj.parent or "") if k.parent else None
                    ids[k.name, obj.key] = store.create(k.name, data, parent_id=parent)["id"]
    except StoreError as exc:
        raise ConfigError(f"{path}: cannot seed the sandbox: {exc}; nothing was seeded") from exc
    return state.count()
