"""Locations: the addresses of an account, keyed by ``name`` within it.

In the YAML they are listed under their account; konvsync files them by
``Address("locations", name, parent=<the account's address>)``. An account
that lists ``locations`` owns that whole set (extra remote ones are deleted); one that omits the key
leaves its locations alone. They are read with their accounts.
"""

from konvsync.kinds.base import Field, Kind

KIND = Kind(
    name="locations",
    singular="location",
    key_field="name",
    fields=(
        Field("account", ref="accounts", input_name="accountId"),
        Field("name"),
        Field("phone"),
        Field(
            "address",
            shape="object",
            subfields=("street", "city", "region", "postalCode", "country"),
        ),
    ),
    operations_file="locations.graphql",
    type_name="Location",
    id_prefix="loc",
    parent="accounts",
    read_via="accounts",
)
