"""Accounts: dealer/partner companies, keyed by ``externalId``. Their
locations are a kind of their own (``locations.py``), read with them."""

from konvsync.kinds.base import Field, Kind

KIND = Kind(
    name="accounts",
    singular="account",
    description="Accounts: partner or dealer companies, with their locations and custom field "
    "values.",
    key_field="externalId",
    fields=(
        Field("externalId", "the account's external ID, unique in the portal."),
        Field("name", "Company name."),
        Field("website", "Website URL; null clears it."),
        Field(
            "userGroups",
            "externalIds of groups the account's users may be placed in.",
            shape="set",
            ref="groups",
            input_name="userGroupIds",
        ),
        Field(
            "customFields",
            "Custom field values by account field key. The map is the account's whole set: keys "
            "left out are cleared.",
            shape="map",
            keys_ref="accountFields",
        ),
    ),
    operations_file="accounts.graphql",
    rename_field="renamedFrom",
    type_name="Account",
    id_prefix="acc",
)
