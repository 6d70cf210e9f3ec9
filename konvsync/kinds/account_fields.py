"""Account fields: the custom fields every account may carry, keyed by ``key``."""

from konvsync.kinds.base import Field, Kind

KIND = Kind(
    name="accountFields",
    singular="account field",
    description="Custom fields that accounts carry.",
    key_field="key",
    fields=(
        Field(
            "key", "the field's key, used in accounts' customFields.", pattern="^[A-Za-z0-9_.-]+$"
        ),
        Field("label", "Label shown in the portal."),
        Field(
            "type",
            "Value type: TEXT, NUMBER, DATE (YYYY-MM-DD), BOOLEAN (true/false) or SELECT (one "
            "of options).",
            held_by="accounts",
            loosest="TEXT",
        ),
        Field(
            "options",
            "Allowed values of a SELECT field, in display order.",
            shape="list",
            export_default=[],
            held_by="accounts",
        ),
        Field(
            "required",
            "Whether every account must have a value.",
            export_default=False,
            held_by="accounts",
            loosest=False,
            binds_missing=True,
        ),
    ),
    operations_file="account_fields.graphql",
    rename_field="renamedFrom",
    type_name="AccountField",
    id_prefix="fld",
)
