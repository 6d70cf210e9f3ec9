"""``konvsync sandbox --seed FILE``: initial data from a konvsync config."""

from __future__ import annotations

from konvsync.config.loader import load_config
from konvsync.errors import ConfigError
from konvsync.kinds.locations import split_location_key
from konvsync.sandbox.store import Store, StoreError


def seed_store(store: Store, path: str) -> int:
    """Create every object of the config at ``path``; return how many."""
    state = load_config(path, allow_external_refs=False)
    ids: dict[tuple[str, str], str] = {}
    created = 0
    try:
        for obj in state.objects.get("groups", {}).values():
            ids["groups", obj.key] = store.create_group(dict(obj.data))["id"]
        for obj in state.objects.get("accountFields", {}).values():
            store.create_account_field(dict(obj.data))
        for obj in state.objects.get("accounts", {}).values():
            data = {k: v for k, v in obj.data.items() if k not in ("userGroups", "locations")}
            data["userGroupIds"] = [ids["groups", g] for g in obj.data.get("userGroups") or []]
            data["customFields"] = [
                {"key": k, "value": None if v is None else str(v)}
                for k, v in (obj.data.get("customFields") or {}).items()
            ]
            ids["accounts", obj.key] = store.create_account(data)["id"]
        for obj in state.objects.get("locations", {}).values():
            account, _ = split_location_key(obj.key)
            data = {k: v for k, v in obj.data.items() if k != "account"}
            store.create_location(ids["accounts", account], data)
        for obj in state.objects.get("users", {}).values():
            data = {k: v for k, v in obj.data.items() if k not in ("account", "groups")}
            if obj.data.get("account"):
                data["accountId"] = ids["accounts", obj.data["account"]]
            data["groupIds"] = [ids["groups", g] for g in obj.data.get("groups") or []]
            store.create_user(data, send_welcome_email=False)
        created = state.count()
    except StoreError as exc:
        raise ConfigError(f"{path}: cannot seed the sandbox: {exc}") from exc
    return created
