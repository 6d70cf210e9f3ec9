"""Accounts: dealer/partner companies, keyed by ``externalId``. Their
locations are a kind of their own (``locations.py``), read with them."""

from konvsync.kinds.base import Field, Kind

KIND = Kind(
    name="accounts",
    singular="account",
    key_field="externalId",
    fields=(
        Field("externalId"),
        Field("name"),
        Field("website"),
        Field("userGroups", shape="set", ref="groups", input_name="userGroupIds"),
        Field("customFields", shape="map", keys_ref="accountFields"),
    ),
    operations_file="accounts.graphql",
    rename_field="renamedFrom",
    type_name="Account",
    id_prefix="acc",
)
