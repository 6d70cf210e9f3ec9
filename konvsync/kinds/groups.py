"""Groups: permission sets, keyed by ``externalId``."""

from konvsync.kinds.base import Field, Kind

KIND = Kind(
    name="groups",
    singular="group",
    key_field="externalId",
    fields=(
        Field("externalId"),
        Field("name"),
        Field("permissions", shape="set"),
        Field("lmsModules", shape="set", ref="lmsModules", input_name="lmsModuleIds"),
        Field("damCategories", shape="set", ref="damCategories", input_name="damCategoryIds"),
    ),
    operations_file="groups.graphql",
    rename_field="renamedFrom",
    type_name="Group",
    id_prefix="grp",
)
