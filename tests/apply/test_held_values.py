"""What apply says of the values a portal kept or dropped under a renamed or
deleted account field's key: counted as a reader counts them."""

from __future__ import annotations

from konvsync.apply.deleted_values import kept_warning
from konvsync.apply.renamed_values import left_behind_warning
from konvsync.plan.changes import Update


def _update(key: str, before: dict[str, str]) -> Update:
    return Update("accounts", key, before={"customFields": before}, after={"customFields": {}})


def test_one_account_is_one_account_and_two_are_accounts() -> None:
    """Once the rename's warning said "kept the values of 1 accounts"."""
    one_kept_one_dropped = [_update("a", {"num": "1"}), _update("b", {})]
    said = left_behind_warning(one_kept_one_dropped, "accountFields", {"num": "number"})
    assert "kept the values of 1 account under the old key" in said, said
    assert "dropped the values of 1 account of account field" in said, said
    two_kept = [_update("a", {"num": "1"}), _update("b", {"num": "2"})]
    said = left_behind_warning(two_kept, "accountFields", {"num": "number"})
    assert "kept the values of 2 accounts under the old key" in said, said
    said = kept_warning([_update("a", {"gone": "1"})], "accountFields", {"gone"}, 1)
    assert "kept the values of 1 account under the deleted account field 'gone'" in said, said
