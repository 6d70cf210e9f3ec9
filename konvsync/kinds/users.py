"""Users: people in the portal, keyed by ``email`` (case-insensitive)."""

from konvsync.kinds.base import Field, Kind

KIND = Kind(
    name="users",
    singular="user",
    key_field="email",
    fields=(
        Field("email", lowercase=True),
        Field("firstName"),
        Field("lastName"),
        Field("title"),
        Field("account", ref="accounts", input_name="accountId"),
        Field("groups", shape="set", ref="groups", input_name="groupIds"),
    ),
    operations_file="users.graphql",
    rename_field="previousEmails",
    create_notice="sendWelcomeEmail",
    type_name="User",
    id_prefix="usr",
)
