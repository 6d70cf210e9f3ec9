"""``konvsync sandbox --seed FILE``: initial data from a konvsync config,
turned into mutation inputs exactly as ``apply`` does. It lives outside the
sandbox package, which knows nothing of configs or plans."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from konvsync.config.loader import load_config
from konvsync.errors import ConfigError
from konvsync.kinds import WRITABLE_KINDS
from konvsync.sandbox.rows import StoreError
from konvsync.sandbox.store import Store


def seed_store(store: Store, path: str) -> int:
    """Create every object of the config at ``path``; return how many."""
    state = load_config(path, allow_external_refs=False)
    ids: dict[tuple[str, str], str] = {}

    def resolve(kind_name: str, key: str) -> str:
        if (kind_name, key) not in ids and kind_name in ("lmsModules", "damCategories"):
            table = "lms_modules" if kind_name == "lmsModules" else "dam_categories"
            found = store.get(table, "slug", key)
            if found is None:
                raise StoreError(f"no {kind_name} with slug {key!r}", "BAD_USER_INPUT")
            ids[kind_name, key] = found["id"]
        return ids[kind_name, key]

    creators: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
        "groups": lambda data, _key: store.create_group(data),
        "accountFields": lambda data, _key: store.create_account_field(data),
        "accounts": lambda data, _key: store.create_account(data),
        "locations": lambda data, parent: store.create_location(resolve("accounts", parent), data),
        "users": lambda data, _key: store.create_user(data, send_welcome_email=False),
        "inviteLinks": lambda data, _key: store.create_invite_link(data),
    }
    try:
        for k in WRITABLE_KINDS:
            for obj in state.objects.get(k.name, {}).values():
                data = k.build_input(k.normalize_desired(obj.data, keep_case=True), resolve)
                ids[k.name, obj.key] = creators[k.name](data, obj.parent or obj.key)["id"]
    except StoreError as exc:
        raise ConfigError(f"{path}: cannot seed the sandbox: {exc}") from exc
    return state.count()
