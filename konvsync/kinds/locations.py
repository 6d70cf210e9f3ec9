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
        Field("name", "the location's name."),
        Field("phone", "Phone number (quote it in YAML)."),
        Field(
            "address",
            "A postal address; omitted parts are empty.",
            shape="object",
            subfields=(
                Field("street", "Street and number."),
                Field("city", "City."),
                Field("region", "State, province or region."),
                Field("postalCode", "Postal or ZIP code."),
                Field("country", "Country, ideally an ISO 3166 code such as US."),
            ),
        ),
    ),
    operations_file="locations.graphql",
    type_name="Location",
    id_prefix="loc",
    parent="accounts",
    read_via="accounts",
)
