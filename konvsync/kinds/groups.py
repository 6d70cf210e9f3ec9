"""Groups: permission sets, keyed by ``externalId``."""

from konvsync.kinds.base import Field, Kind

KIND = Kind(
    name="groups",
    singular="group",
    description="Groups: permission sets users and accounts belong to.",
    key_field="externalId",
    fields=(
        Field("externalId", "the group's external ID, unique in the portal."),
        Field("name", "Display name."),
        Field("permissions", "Permissions granted to members.", shape="set"),
        Field(
            "lmsModules",
            "Slugs of the LMS modules (courses) members may open. Modules are authored in the "
            "portal; plan checks each slug against it.",
            shape="set",
            ref="lmsModules",
            input_name="lmsModuleIds",
        ),
        Field(
            "damCategories",
            "Slugs of the DAM (asset) categories members may open. Categories are authored in "
            "the portal; plan checks each slug against it.",
            shape="set",
            ref="damCategories",
            input_name="damCategoryIds",
        ),
    ),
    operations_file="groups.graphql",
    rename_field="renamedFrom",
    type_name="Group",
    id_prefix="grp",
)
