"""DAM (asset) categories: authored in the portal, read to be referred to by
``slug`` from a group's ``damCategories``. A reference kind: never written."""

from konvsync.kinds.base import Field, Kind

KIND = Kind(
    name="damCategories",
    singular="DAM category",
    key_field="slug",
    fields=(Field("slug"), Field("name")),
    operations_file="dam_categories.graphql",
    type_name="DamCategory",
    id_prefix="dam",
    type_plural="DamCategories",
    reference=True,
)
