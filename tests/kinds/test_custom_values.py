"""Custom field values compare by their field's type
(``kinds.custom_values.same_value``), and a portal's value is written in
the config's form (``config_form``): the readings the contract leaves
open are the same value, anything else is another value, and a value
that does not read as its type compares as written."""

from __future__ import annotations

import pytest

from konvsync.kinds.custom_values import config_form, same_value, value_fits

SAME = [
    ("BOOLEAN", "True", "true"),
    ("BOOLEAN", "FALSE", "false"),
    ("BOOLEAN", "1", "true"),  # as a number column holds it
    ("BOOLEAN", "0", "false"),
    ("DATE", "2026-12-07T00:00:00Z", "2026-12-07"),
    ("DATE", "2026-12-07T00:00:00.000+00:00", "2026-12-07"),
    ("DATE", "2026-12-07T00:00:00-00:00", "2026-12-07"),
    ("DATE", "2026-12-07T00:00:00", "2026-12-07"),
    ("DATE", "2026-12-07 00:00:00Z", "2026-12-07"),
    ("NUMBER", "1.50", "1.5"),
    ("NUMBER", "01", "1"),
    ("NUMBER", "1.00", "1"),
    ("NUMBER", "-0", "0"),
    ("NUMBER", "1E+3", "1000"),
]
OTHER = [
    ("BOOLEAN", "True", "false"),
    ("BOOLEAN", "yes", "true"),  # not a boolean on the portal's side: as written
    ("BOOLEAN", "1", "false"),
    ("BOOLEAN", "01", "true"),  # a number's other spellings are not a boolean's
    ("DATE", "2026-12-07T00:00:01Z", "2026-12-07"),  # not midnight: another value
    ("DATE", "2026-12-07T00:00:00+02:00", "2026-12-07"),  # midnight elsewhere: another instant
    ("DATE", "2026-12-06T22:00:00Z", "2026-12-07"),
    ("DATE", "2026-12-08T00:00:00Z", "2026-12-07"),
    ("DATE", "07.12.2026", "2026-12-07"),
    ("NUMBER", "1.0000000000000001", "1"),  # exact, not as a float compares
    ("NUMBER", "NaN", "1"),
    ("NUMBER", "1,5", "1.5"),
    ("TEXT", "True", "true"),
    ("TEXT", "1.50", "1.5"),
    ("SELECT", "Gold", "gold"),
    (None, "True", "true"),  # a key no field has: as written
]


@pytest.mark.parametrize(("field_type", "portal", "config"), SAME)
def test_the_portals_form_is_the_same_value(field_type: str, portal: str, config: str) -> None:
    assert same_value(portal, config, field_type)
    assert same_value(config, portal, field_type)


@pytest.mark.parametrize(("field_type", "portal", "config"), OTHER)
def test_another_value_or_one_that_does_not_read_as_its_type_differs(
    field_type: str | None, portal: str, config: str
) -> None:
    assert not same_value(portal, config, field_type)


@pytest.mark.parametrize(("field_type", "portal", "config"), SAME)
def test_the_config_form_of_a_portals_value_validates(
    field_type: str, portal: str, config: str
) -> None:
    written = config_form(portal, field_type)
    assert value_fits(written, field_type, [])
    if field_type != "NUMBER":  # a number is written as the portal gave it
        assert written == config


def test_a_value_that_does_not_read_as_its_type_is_written_as_it_is() -> None:
    assert config_form("2026-12-07T00:00:00+02:00", "DATE") == "2026-12-07T00:00:00+02:00"
    assert config_form("yes", "BOOLEAN") == "yes"
    assert config_form("True", "TEXT") == "True"
