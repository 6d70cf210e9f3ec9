"""Portals that honour the contract in ways the sandbox does not play: where
the contract is silent, a real portal may choose otherwise (DESIGN, "Where
the contract is silent"). Each case changes what the portal does, not only
what it answers: it edits the sandbox's store behind the mutation, as a
portal with that habit would."""

from __future__ import annotations

import time
from dataclasses import replace
from decimal import Decimal
from typing import Any

from aiohttp import web
from graphql import FieldNode, OperationDefinitionNode, parse, print_ast

from konvsync.kinds.custom_values import value_fits
from konvsync.sandbox.store import Store
from tests.hostile.cases import connection_of
from tests.hostile.server import Call, Case, Json


class ValuesDroppedOnRename(Case):
    """Renaming an account field's key drops the accounts' values under it
    (neither moved to the new key nor left under the old one)."""

    name = "values-dropped-on-rename"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.dropped = 0

    def answer(self, call: Call, answer: Json) -> Json:
        if not call.operation.startswith("UpdateAccountField"):
            return answer
        renamed = {
            given["key"]
            for name, given in call.variables.items()
            if name.startswith("input_") and isinstance(given, dict) and "key" in given
        }
        for account in self.store.page("accounts", 100, None)["nodes"]:
            values: list[dict[str, Any]] = account["customFields"]
            kept = [entry for entry in values if entry["key"] not in renamed]
            if kept != values:
                self.store.update("accounts", account["id"], {"customFields": kept})
                self.dropped += 1
        return answer


class NestedInputPatched(Case):
    """``updateLocation`` reads its ``address`` input as a patch too (the
    contract: update inputs are patches, an omitted field is left as it is):
    parts the input omits keep their stored values."""

    name = "nested-input-patched"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.kept: list[dict[str, Any]] = []

    def request(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        if not call.operation.startswith("UpdateLocation"):
            return body
        variables = dict(body.get("variables") or {})
        for name, given in list(variables.items()):
            if not (name.startswith("input_") and isinstance(given, dict)):
                continue
            address = given.get("address")
            if not isinstance(address, dict):
                continue
            stored = self.store.get("locations", id=variables[f"id_{name[len('input_') :]}"])
            before = (stored or {}).get("address") or {}
            merged = {**before, **address}
            if merged != address:
                self.kept.append(merged)
            variables[name] = {**given, "address": merged}
        return {**body, "variables": variables}


class EmptyPagesBetween(Case):
    """Before every page of ``operation``, ``count`` pages with no nodes
    (the contract: a page may hold fewer nodes than asked, none included),
    each behind a cursor of its own that leads on to the real page."""

    name = "empty-pages-between"
    MARK = "empty:"

    def __init__(self, operation: str, count: int = 2) -> None:
        self.operation = operation
        self.count = count
        self.empty_pages = 0

    def request(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        after = call.variables.get("after")
        if call.operation == self.operation and str(after).startswith(self.MARK):
            real = str(after).split(":", 2)[2]
            variables = {**body["variables"], "after": real or None}
            body = {**body, "variables": variables}
        return body

    def answer(self, call: Call, answer: Json) -> Json:
        connection = connection_of(answer)
        if call.operation != self.operation or connection is None:
            return answer
        after = str(call.variables.get("after") or "")
        if after.startswith(self.MARK):
            _, done, real = after.split(":", 2)
        else:
            done, real = "0", after
        if int(done) < self.count:
            self.empty_pages += 1
            connection["nodes"] = []
            connection["pageInfo"] = {
                "hasNextPage": True,
                "endCursor": f"{self.MARK}{int(done) + 1}:{real}",
            }
        elif connection["pageInfo"]["hasNextPage"]:
            connection["pageInfo"]["endCursor"] = (
                f"{self.MARK}0:{connection['pageInfo']['endCursor']}"
            )
        return answer


class OptionsInUseKept(Case):
    """``updateAccountField`` refuses (BAD_USER_INPUT) to take away a SELECT
    option that an account's value still holds: the contract says values
    must fit their field, and this portal keeps that true when the field
    changes too. Batches of one field only (what the test sends)."""

    name = "options-in-use-kept"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.refused = 0

    async def before(self, call: Call) -> web.StreamResponse | None:
        if not call.operation.startswith("UpdateAccountField") or call.fields != 1:
            return None
        given = call.variables.get("input_0") or {}
        field = self.store.get("accountFields", id=call.variables.get("id_0"))
        if field is None or "options" not in given:
            return None
        removed = set(field["options"]) - set(given["options"] or [])
        in_use = {
            entry["value"]
            for account in self.store.page("accounts", 100, None)["nodes"]
            for entry in account["customFields"]
            if entry["key"] == field["key"]
        }
        if not removed & in_use:
            return None
        self.refused += 1
        message = f"option {sorted(removed & in_use)[0]!r} is in use"
        error = {"message": message, "path": ["m0"], "extensions": {"code": "BAD_USER_INPUT"}}
        return web.json_response({"data": {"m0": None}, "errors": [error]})


class _FieldKeptFitting(Case):
    """A portal that keeps every account's custom values fitting their field
    when the field changes (the contract requires values to fit their field
    and is silent on field updates): a create or update of an account field
    that some account's value (or missing value) would not fit is refused
    with BAD_USER_INPUT. Batches of one field only (what the tests send)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.refused = 0

    def refusal(self, field: dict[str, Any], values: dict[str, str | None]) -> str | None:
        """Why ``field`` (as it would be stored) is refused, given each
        account's value for it (None: none); None if it is not."""
        raise NotImplementedError

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.fields != 1 or not call.operation.startswith(
            ("UpdateAccountField", "CreateAccountField")
        ):
            return None
        given = call.variables.get("input_0")
        if not isinstance(given, dict):
            return None
        stored = self.store.get("accountFields", id=call.variables.get("id_0")) or {}
        field = {**stored, **given}
        values: dict[str, str | None] = {}
        for account in self.store.page("accounts", 100, None)["nodes"]:
            held = {e["key"]: e["value"] for e in account["customFields"]}
            values[account["externalId"] or account["id"]] = held.get(field["key"]) or None
        message = self.refusal(field, values)
        if message is None:
            return None
        self.refused += 1
        error = {"message": message, "path": ["m0"], "extensions": {"code": "BAD_USER_INPUT"}}
        return web.json_response({"data": {"m0": None}, "errors": [error]})


class RequiredRefusedWhileMissing(_FieldKeptFitting):
    """Refuses to make a field required (on create or update) while an
    account has no value for it."""

    name = "required-refused-while-missing"

    def refusal(self, field: dict[str, Any], values: dict[str, str | None]) -> str | None:
        missing = sorted(account for account, value in values.items() if value is None)
        if field.get("required") and missing:
            return f"accounts without a value for {field['key']!r}: {', '.join(missing)}"
        return None


class TypeRefusedWhileUnfit(_FieldKeptFitting):
    """Refuses a field's type (and options) that an account's value does not fit."""

    name = "type-refused-while-unfit"

    def refusal(self, field: dict[str, Any], values: dict[str, str | None]) -> str | None:
        unfit = sorted(
            account
            for account, value in values.items()
            if value is not None
            and not value_fits(value, field["type"], list(field.get("options") or []))
        )
        if unfit:
            return f"values of {', '.join(unfit)} do not fit {field['type']}"
        return None


class IdsUniquePerType(Case):
    """IDs unique within their type only, as a portal keyed by one table
    per type has them: the sandbox's ``grp_1`` and ``acc_1`` are both
    answered as ``1`` (the contract's ``ID`` is opaque and says nothing of
    uniqueness across types). The IDs konvsync sends are given their
    type's prefix again on the way in, by the operation and the input
    field that carry them."""

    name = "ids-unique-per-type"

    STEMS = (
        ("AccountField", "fld"),
        ("InviteLink", "inv"),
        ("Account", "acc"),
        ("Location", "loc"),
        ("Group", "grp"),
        ("User", "usr"),
    )
    """Operation stems (``UpdateAccountFieldBatch``, ``GetAccount``) and
    their type's prefix, longest first where one holds another."""
    REFERENCES = {
        "groupIds": "grp",
        "userGroupIds": "grp",
        "accountId": "acc",
        "accountMatchFieldId": "fld",
        "lmsModuleIds": "lms",
        "damCategoryIds": "dam",
    }
    """Input fields and arguments that carry another type's IDs."""

    def request(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        own = next((p for stem, p in self.STEMS if stem in call.operation), None)
        variables = dict(body.get("variables") or {})
        for name, value in variables.items():
            base = name.rsplit("_", 1)[0] if name[-1:].isdigit() else name
            if base == "id" and own is not None:
                variables[name] = _prefixed(own, value)
            elif base in self.REFERENCES:
                variables[name] = _prefixed(self.REFERENCES[base], value)
            elif base == "input" and isinstance(value, dict):
                variables[name] = {
                    k: _prefixed(self.REFERENCES[k], v) if k in self.REFERENCES else v
                    for k, v in value.items()
                }
        return {**body, "variables": variables}

    def answer(self, call: Call, answer: Json) -> Json:
        data = answer.get("data")
        if isinstance(data, dict) and call.is_mutation:
            for alias, value in data.items():
                if isinstance(value, str):  # a delete's answer: the ID
                    data[alias] = _unprefixed(value)
        _strip_ids(data)
        return answer


def _prefixed(prefix: str, value: Any) -> Any:
    if isinstance(value, list):
        return [_prefixed(prefix, item) for item in value]
    return None if value is None else f"{prefix}_{value}"


def _unprefixed(value: str) -> str:
    return value.partition("_")[2] or value


def _strip_ids(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "id" and isinstance(value, str):
                node[key] = _unprefixed(value)
            else:
                _strip_ids(value)
    elif isinstance(node, list):
        for item in node:
            _strip_ids(item)


class IdsReused(Case):
    """A portal that gives a new object the ID of one deleted before (as
    SQLite does with a table's highest rowid, without AUTOINCREMENT): the
    first create of a kind after a delete of it is answered, and from then
    on shown, with the deleted object's ID. The contract does not say an
    ID is never used again. (The sandbox's IDs carry their type's prefix,
    which tells the kind.)"""

    name = "ids-reused"

    def __init__(self) -> None:
        self.freed: dict[str, list[str]] = {}
        self.shown: dict[str, str] = {}
        """The sandbox's ID -> the reused ID the portal shows for it."""
        self.reused = 0

    def request(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        real = {shown: own for own, shown in self.shown.items()}
        return {**body, "variables": _replaced(body.get("variables") or {}, real)}

    def answer(self, call: Call, answer: Json) -> Json:
        data = answer.get("data")
        if call.is_mutation and isinstance(data, dict):
            for value in data.values():
                if call.operation.startswith("Delete") and isinstance(value, str):
                    self.freed.setdefault(value.partition("_")[0], []).append(value)
                elif call.operation.startswith("Create") and isinstance(value, dict):
                    freed = self.freed.get(str(value.get("id")).partition("_")[0])
                    if freed:
                        self.shown[value["id"]] = freed.pop(0)
                        self.reused += 1
        answer["data"] = _replaced(data, self.shown)
        return answer


def _replaced(node: Any, ids: dict[str, str]) -> Any:
    """``node`` with every string that is a key of ``ids`` replaced."""
    if isinstance(node, dict):
        return {key: _replaced(value, ids) for key, value in node.items()}
    if isinstance(node, list):
        return [_replaced(item, ids) for item in node]
    if isinstance(node, str):
        return ids.get(node, node)
    return node


class FieldsNotAskedFor(Case):
    """Every object in every answer (nested ones too: a location's address)
    carries fields the document did not select, ``__typename`` among them,
    as a gateway in front of a portal may add. konvsync's answer check lets
    a field it did not ask for pass; nothing it compares may depend on one."""

    name = "fields-not-asked-for"

    def answer(self, call: Call, answer: Json) -> Json:
        _add_fields(answer.get("data"))
        return answer


def _add_fields(node: Any, top: bool = True) -> None:
    if isinstance(node, dict):
        for value in node.values():
            _add_fields(value, top=False)
        if not top:
            node.update({"__typename": "Node", "internalNote": "added by the gateway"})
    elif isinstance(node, list):
        for item in node:
            _add_fields(item, top=False)


class EmailsLookedUpAsStored(Case):
    """A portal that stores e-mails as written, keeps them unique
    case-insensitively (the contract), and finds ``user(email:)`` only as
    stored (``WHERE email = ?``: the contract does not say how the lookup
    compares). The first ``CreateUser`` is executed and then answered with
    a 502 from its gateway: konvsync must look the user up to learn whether
    it was made."""

    name = "emails-looked-up-as-stored"

    def __init__(self) -> None:
        self.lost = 0
        self.missed = 0

    def answer(self, call: Call, answer: Json) -> Json | web.StreamResponse:
        if call.operation.startswith("CreateUser") and not self.lost:
            self.lost += 1
            return web.Response(status=502, text="bad gateway")
        if call.operation.startswith("GetUser"):
            self.missed += found_only_as_stored(call, answer.get("data") or {})
        return answer


def found_only_as_stored(call: Call, data: Json) -> int:
    """A ``user(email:)`` look-up that finds an e-mail only as stored
    (``WHERE email = ?``): each answer of ``data`` whose e-mail is not the
    key asked for, as written, becomes null; how many did."""
    missed = 0
    for alias, node in list(data.items()):
        asked = call.variables.get(f"key_{alias[1:]}")
        if isinstance(node, dict) and asked is not None and node["email"] != asked:
            data[alias] = None
            missed += 1
    return missed


class MissedAndLookedUpAsStored(Case):
    """The list of users shows another user (``instead``) where the one with
    ``email`` stands (she slipped between two pages), and ``user(email:)``
    finds an e-mail only as stored (``found_only_as_stored``)."""

    name = "missed-and-looked-up-as-stored"

    def __init__(self, email: str, instead: dict[str, str]) -> None:
        self.email = email
        self.instead = instead

    def answer(self, call: Call, answer: Json) -> Json:
        data = answer.get("data") or {}
        if call.operation == "ReadUsers":
            nodes = data["users"]["nodes"]
            for index, node in enumerate(nodes):
                if node["email"] == self.email:
                    nodes[index] = {**node, **self.instead}
        if call.operation.startswith("GetUser"):
            found_only_as_stored(call, data)
        return answer


class ValuesInOwnForm(Case):
    """A portal that stores custom field values typed and answers each in
    its own form for the field's type (the contract types a value as a
    String and says nothing of its form): a BOOLEAN as .NET and Python
    stringify it (``True``), a DATE as a date-time at midnight
    (``date_form``: ``{}T00:00:00Z``), a NUMBER with two decimals, as a
    ``decimal(18,2)`` column holds it (``1.5`` as ``1.50``, ``7`` as
    ``7.00``). Every answer that lists an account's customFields (reads,
    gets, mutations' answers) shows them so; the store keeps what was sent.
    A field retyped to TEXT keeps its values as it showed them (its typed
    values become their text). ``digits``: a BOOLEAN as ``1``/``0`` instead,
    as a portal keeping it in a number column (MySQL's ``tinyint``, PHP)
    answers it."""

    name = "values-in-own-form"

    def __init__(self, store: Store, date_form: str = "{}T00:00:00Z", digits: bool = False) -> None:
        self.store = store
        self.date_form = date_form
        self.digits = digits
        self.shown = 0
        self.types = self._types()
        self.kept_as_text = 0

    def _types(self) -> dict[str, str]:
        return {
            field["key"]: field["type"]
            for field in self.store.page("accountFields", 100, None)["nodes"]
        }

    def answer(self, call: Call, answer: Json) -> Json:
        types = self._types()
        if call.operation.startswith("UpdateAccountField"):
            self._keep_as_text(types)
        self.types = types
        self._rewrite(answer.get("data"), types)
        return answer

    def _keep_as_text(self, types: dict[str, str]) -> None:
        texts = {k for k, t in types.items() if t == "TEXT" and self.types.get(k, t) != t}
        for account in self.store.page("accounts", 100, None)["nodes"]:
            values = [
                {**e, "value": self.form(self.types[e["key"]], e["value"])}
                if e["key"] in texts
                else e
                for e in account["customFields"]
            ]
            if values != account["customFields"]:
                self.store.update("accounts", account["id"], {"customFields": values})
                self.kept_as_text += 1

    def _rewrite(self, node: Any, types: dict[str, str]) -> None:
        if isinstance(node, list):
            for item in node:
                self._rewrite(item, types)
        if not isinstance(node, dict):
            return
        for name, value in node.items():
            if name == "customFields" and isinstance(value, list):
                for entry in value:
                    shown = self.form(types.get(entry.get("key")), entry.get("value"))
                    if shown != entry.get("value"):
                        entry["value"] = shown
                        self.shown += 1
            else:
                self._rewrite(value, types)

    def form(self, field_type: str | None, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if field_type == "BOOLEAN":
            return ("1" if value.lower() == "true" else "0") if self.digits else value.capitalize()
        if field_type == "DATE":
            return self.date_form.format(value)
        if field_type == "NUMBER":
            return f"{Decimal(value):.2f}"
        return value


class TitlesBlank(Case):
    """A portal that keeps an invite link's title as given, blank included
    (the contract types it ``String!`` and says only that a create gives
    one): the links titled one of ``titles`` in the sandbox are answered
    with the title ``"  "``."""

    name = "titles-blank"

    def __init__(self, *titles: str) -> None:
        self.titles = set(titles)

    def answer(self, call: Call, answer: Json) -> Json:
        _blank_titles(answer.get("data"), self.titles)
        return answer


def _blank_titles(node: Any, titles: set[str]) -> None:
    if isinstance(node, dict):
        if node.get("title") in titles:
            node["title"] = "  "
        for value in node.values():
            _blank_titles(value, titles)
    elif isinstance(node, list):
        for item in node:
            _blank_titles(item, titles)


class ContentUnlisted(Case):
    """A portal whose ``lmsModules`` and ``damCategories`` list only
    published content (the contract does not say the lists show every
    module), while groups still hold archived or draft ones, answered there
    with their ID and slug: the modules and categories with one of
    ``slugs`` are left out of every page of their reads, ``totalCount``
    counting only those listed (so the pages add up)."""

    name = "content-unlisted"
    READS = {"ReadLmsModules": "lmsModules", "ReadDamCategories": "damCategories"}

    def __init__(self, store: Store, *slugs: str) -> None:
        self.store = store
        self.slugs = set(slugs)
        self.left_out = 0

    def answer(self, call: Call, answer: Json) -> Json:
        kind_name = self.READS.get(call.operation)
        connection = connection_of(answer) if kind_name else None
        if kind_name is None or connection is None:
            return answer
        listed = [node for node in connection["nodes"] if node["slug"] not in self.slugs]
        self.left_out += len(connection["nodes"]) - len(listed)
        connection["nodes"] = listed
        every = self.store.page(kind_name, 100, None)["nodes"]
        connection["totalCount"] = sum(1 for row in every if row["slug"] not in self.slugs)
        return answer


class LookupsByEveryArgument(Case):
    """A portal whose look-ups (``user(id:, email:)``, ``group(id:,
    externalId:)``, ``account(id:, externalId:)``) filter by every argument
    given, as a resolver that hands its arguments to ``find_by(**args)``
    does: an argument given as null asks for an object whose field is null.
    GraphQL tells an argument given as null from one not given, and the
    contract does not say how the two arguments combine. Each answer that
    does not fit every argument given is null."""

    name = "lookups-by-every-argument"
    KEYS = {"GetUser": "email", "GetGroup": "externalId", "GetAccount": "externalId"}

    def __init__(self) -> None:
        self.asked = 0
        self.missed = 0

    def answer(self, call: Call, answer: Json) -> Json:
        key = next((k for op, k in self.KEYS.items() if call.operation.startswith(op)), None)
        data = answer.get("data")
        if key is None or not isinstance(data, dict):
            return answer
        for alias, node in data.items():
            self.asked += 1
            given = {
                field: call.variables[name]
                for field, name in (("id", f"id_{alias[1:]}"), (key, f"key_{alias[1:]}"))
                if name in call.variables
            }
            if isinstance(node, dict) and any(node.get(f) != v for f, v in given.items()):
                data[alias] = None
                self.missed += 1
        return answer


class LookupsAnswerNotFound(Case):
    """A portal whose look-ups (``user(email:)``, ``group(id:)`` ...) answer
    an object it does not have with null and a ``NOT_FOUND`` error at that
    field's path, as many GraphQL APIs do: the contract's look-ups return a
    nullable object, and NOT_FOUND is one of its error codes."""

    name = "lookups-answer-not-found"

    def __init__(self) -> None:
        self.not_found = 0

    def answer(self, call: Call, answer: Json) -> Json:
        data = answer.get("data")
        if not call.operation.startswith("Get") or not isinstance(data, dict):
            return answer
        for alias, node in data.items():
            if node is None:
                error = {
                    "message": "not found",
                    "path": [alias],
                    "extensions": {"code": "NOT_FOUND"},
                }
                answer.setdefault("errors", []).append(error)
                self.not_found += 1
        return answer


class MutationsPerSecond(Case):
    """A portal that executes at most ``limit`` mutations a second and
    refuses the rest of a batch alias by alias: each a null and an error
    of its own coded RATE_LIMITED (the contract: each mutation of a
    document succeeds or fails on its own). The refused aliases are taken
    out of the document before it is forwarded, so that they do not run."""

    name = "mutations-per-second"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.window = -1
        self.used = 0
        self.refused = 0
        self.dropped: dict[int, list[str]] = {}

    def request(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        if not call.is_mutation:
            return body
        now = int(time.monotonic())
        if now != self.window:
            self.window, self.used = now, 0
        document = parse(body["query"])
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        fields = list(operation.selection_set.selections)
        room = max(0, self.limit - self.used)
        kept, dropped = fields[:room], fields[room:]
        self.used += len(kept)
        if not dropped:
            return body
        aliases = [f.alias.value for f in dropped if isinstance(f, FieldNode) and f.alias]
        self.dropped[id(call)] = aliases
        self.refused += len(aliases)
        if not kept:
            return {"query": "query Refused { __typename }", "variables": {}}
        suffixes = {f.alias.value[1:] for f in kept if isinstance(f, FieldNode) and f.alias}

        def wanted(name: str) -> bool:
            return name.rsplit("_", 1)[-1] in suffixes

        smaller = replace(
            operation,
            selection_set=replace(operation.selection_set, selections=tuple(kept)),
            variable_definitions=tuple(
                v for v in operation.variable_definitions if wanted(v.variable.name.value)
            ),
        )
        definitions = tuple(smaller if d is operation else d for d in document.definitions)
        variables = {name: value for name, value in body["variables"].items() if wanted(name)}
        return {
            **body,
            "query": print_ast(replace(document, definitions=definitions)),
            "variables": variables,
        }

    def answer(self, call: Call, answer: Json) -> Json:
        aliases = self.dropped.pop(id(call), [])
        if not aliases:
            return answer
        data = answer.get("data")
        data = {} if not isinstance(data, dict) or "__typename" in data else data
        errors = answer.get("errors") or []
        for alias in aliases:
            data[alias] = None
            errors.append(
                {
                    "message": "too many mutations",
                    "path": [alias],
                    "extensions": {"code": "RATE_LIMITED"},
                }
            )
        return {**answer, "data": data, "errors": errors}
