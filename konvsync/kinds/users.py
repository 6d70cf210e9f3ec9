"""Users: people in the portal, keyed by ``email`` (case-insensitive)."""

from konvsync.kinds.base import Field, Kind

KIND = Kind(
    name="users",
    singular="user",
    description="Portal users.",
    key_field="email",
    fields=(
        Field(
            "email",
            "the user's e-mail address, compared case-insensitively.",
            lowercase=True,
            pattern=r"^[^@\s]+@[^@\s]+$",
            pattern_message="must be an e-mail address such as jane@acme.example "
            "(one @, no spaces)",
        ),
        Field("firstName", "First name."),
        Field("lastName", "Last name."),
        Field("title", "Job title; null clears it."),
        Field(
            "account",
            "externalId of the user's account; null detaches the user.",
            ref="accounts",
            input_name="accountId",
        ),
        Field(
            "groups",
            "externalIds of the user's groups.",
            shape="set",
            ref="groups",
            input_name="groupIds",
        ),
    ),
    operations_file="users.graphql",
    rename_field="previousEmails",
    rename_many=True,
    create_notice="sendWelcomeEmail",
    type_name="User",
    id_prefix="usr",
)
