"""LMS modules (courses): authored in the portal, read to be referred to by
``slug`` from a group's ``lmsModules``. A reference kind: never written."""

from konvsync.kinds.base import Field, Kind

KIND = Kind(
    name="lmsModules",
    singular="LMS module",
    key_field="slug",
    fields=(Field("slug"), Field("title")),
    operations_file="lms_modules.graphql",
    type_name="LmsModule",
    id_prefix="lms",
    reference=True,
)
