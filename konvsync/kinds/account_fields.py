"""Account fields: the custom fields every account may carry, keyed by ``key``."""

from konvsync.kinds.base import Field, Kind

KIND = Kind(
    name="accountFields",
    singular="account field",
    key_field="key",
    fields=(
        Field("key"),
        Field("label"),
        Field("type"),
        Field("options", shape="list", export_default=[]),
        Field("required", export_default=False),
    ),
    operations_file="account_fields.graphql",
    rename_field="renamedFrom",
    type_name="AccountField",
    id_prefix="fld",
)
