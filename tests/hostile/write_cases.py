"""The hostile portal's repertoire on the write side: mutation answers that
break the contract or show the portal did not do what was asked, and reads
made during or after an apply (re-reads before a step, the read-back).

Mutations come as aliased batches: ``CreateGroupBatch`` with fields ``m0``,
``m1`` ... and variables ``input_0``, ``id_0`` ...
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.hostile.cases import connection_of, html_page, nodes_of
from tests.hostile.server import Call, Case, Json


def _aliases_matching(call: Call, field: str, value: str) -> list[str]:
    """Aliases (``m0`` ...) of a batch whose ``input_N`` has ``field == value``
    (all of them when ``field`` is empty)."""
    found = []
    for index in range(call.fields):
        given = call.variables.get(f"input_{index}") or {}
        if not field or (isinstance(given, dict) and given.get(field) == value):
            found.append(f"m{index}")
    return found


class MutationAnswerId(Case):
    """The answer to one mutation (picked by a field of its input) carries
    ``id`` = ``value`` (null, a number ...) instead of the portal's ID; the
    mutation itself is executed."""

    def __init__(self, name: str, operation: str, field: str, key: str, value: Any) -> None:
        self.name = name
        self.operation = operation
        self.field = field
        self.key = key
        self.value = value

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation != self.operation:
            return answer
        data = answer.get("data") or {}
        for alias in _aliases_matching(call, self.field, self.key):
            if isinstance(data.get(alias), dict):
                data[alias]["id"] = self.value
        return answer


class MutationAnswerValue(Case):
    """The answer to one mutation (picked by a field of its input) carries
    ``answer_field`` = ``value`` (one the contract does not allow there);
    the mutation itself is executed."""

    def __init__(self, name: str, operation: str, key: tuple[str, str], answer: Json) -> None:
        self.name = name
        self.operation = operation
        self.key = key
        self.changed = answer

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation != self.operation:
            return answer
        data = answer.get("data") or {}
        for alias in _aliases_matching(call, *self.key):
            if isinstance(data.get(alias), dict):
                data[alias].update(self.changed)
        return answer


class IgnoredField(Case):
    """The portal accepts an update but silently ignores one input field: it
    is taken out of every ``input_N`` before the sandbox sees it, so the
    object keeps its old value (and the answer shows the old value)."""

    def __init__(self, name: str, operation: str, field: str) -> None:
        self.name = name
        self.operation = operation
        self.field = field

    def request(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        if call.operation != self.operation:
            return body
        variables = {
            name: (
                {k: v for k, v in value.items() if k != self.field}
                if name.startswith("input_") and isinstance(value, dict)
                else value
            )
            for name, value in (body.get("variables") or {}).items()
        }
        return {**body, "variables": variables}


class BrokenReRead(Case):
    """Reads made after the plan's reads (a ``Get*`` query, or a ``Read*``
    query from its first page again: the re-read before a step) answer every
    object carrying ``permissions`` with a string instead of a list. Walks
    the answer, so it does not depend on the re-read's document."""

    name = "re-read-breaks-contract"

    def __init__(self) -> None:
        self.first_pages: set[str] = set()

    def _is_re_read(self, call: Call) -> bool:
        if call.is_mutation:
            return False
        if call.operation.startswith("Get"):
            return True
        if call.operation.startswith("Read") and call.variables.get("after") is None:
            seen = call.operation in self.first_pages
            self.first_pages.add(call.operation)
            return seen
        return False

    def answer(self, call: Call, answer: Json) -> Json:
        if self._is_re_read(call):
            _strings_for_permissions(answer)
        return answer


def _strings_for_permissions(value: Json) -> None:
    if isinstance(value, dict):
        if isinstance(value.get("permissions"), list):
            value["permissions"] = "MANAGE_DAMS"
        for item in value.values():
            _strings_for_permissions(item)
    elif isinstance(value, list):
        for item in value:
            _strings_for_permissions(item)


class AnswerAnotherId(Case):
    """Updates are answered with the ID of another object of the same kind
    (one seen in an earlier read), as if the portal had updated that one."""

    def __init__(self, name: str, operation: str) -> None:
        self.name = name
        self.operation = operation
        self.seen: list[str] = []

    def answer(self, call: Call, answer: Json) -> Json:
        connection = connection_of(answer)
        if not call.is_mutation and connection is not None:
            self.seen += [node["id"] for node in nodes_of(connection) if isinstance(node, dict)]
        if call.operation != self.operation:
            return answer
        data = answer.get("data") or {}
        for index in range(call.fields):
            sent_for = call.variables.get(f"id_{index}")
            other = next(i for i in self.seen if i != sent_for)
            if isinstance(data.get(f"m{index}"), dict):
                data[f"m{index}"]["id"] = other
        return answer


class BrokenAfterWrites(Case):
    """Once a mutation went through, every read answer carries ``permissions``
    as a string: the post-apply read-back breaks the contract."""

    name = "read-back-breaks-contract"

    def __init__(self) -> None:
        self.wrote = False

    def answer(self, call: Call, answer: Json) -> Json:
        if call.is_mutation:
            self.wrote = True
        elif self.wrote:
            _strings_for_permissions(answer)
        return answer


class RawAfterExecution(Case):
    """The portal executes one mutation, then answers it with an HTML page
    (a proxy's error page): the write happened, the answer says nothing."""

    def __init__(self, name: str, operation: str) -> None:
        self.name = name
        self.operation = operation

    def answer(self, call: Call, answer: Json) -> Json:
        return html_page() if call.operation == self.operation else answer


class EchoedInput(Case):
    """The portal drops one input field of a mutation (the object keeps the
    portal's default) but answers with the values sent, as a server that
    builds its answer from the input rather than from what it stored."""

    def __init__(self, name: str, operation: str, field: str) -> None:
        self.name = name
        self.operation = operation
        self.field = field
        self.dropped = IgnoredField(name, operation, field)

    def request(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        return self.dropped.request(call, body)

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation != self.operation:
            return answer
        data = answer.get("data") or {}
        for index in range(call.fields):
            given = call.variables.get(f"input_{index}") or {}
            alias = f"m{index}"
            if isinstance(data.get(alias), dict) and self.field in given:
                data[alias][self.field] = given[self.field]
        return answer


class IntrospectionOf2018(Case):
    """A portal of GraphQL's 2018 edition: its first introspection query
    (which asks for deprecated arguments and input fields, an argument that
    edition does not have) is answered with a validation error and no data;
    the next one, asked its way, as the sandbox answers it."""

    name = "introspection-2018"

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation == "IntrospectionQuery" and call.index == 0:
            message = 'Unknown argument "includeDeprecated" on field "__Field.args".'
            return {"errors": [{"message": message}]}
        return answer


class EditedSchema(Case):
    """The introspection answer with ``edit`` applied to its ``__schema``
    (a schema graphql-core cannot build or deems invalid); the rest honest."""

    def __init__(self, name: str, edit: Callable[[dict[str, Any]], None]) -> None:
        self.name = name
        self.edit = edit

    def answer(self, call: Call, answer: Json) -> Json:
        schema = (answer.get("data") or {}).get("__schema")
        if call.operation == "IntrospectionQuery" and isinstance(schema, dict):
            self.edit(schema)
        return answer


class LateCommit(Case):
    r"""The portal holds the first request of one operation until the test
    :attr:`release`\ s it, then executes it (a queue, a lock, a slow
    database): konvsync has given up waiting by then, and its look-up by key
    did not find what the portal had yet to write. :attr:`done` is set once
    it was executed (the test thread waits on it)."""

    def __init__(self, name: str, operation: str) -> None:
        self.name = name
        self.operation = operation
        self.held = False
        self.release = threading.Event()
        self.done = threading.Event()

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation == self.operation and not self.held:
            self.held = True
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return None

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation == self.operation and self.release.is_set():
            self.done.set()
        return answer


class StaleReadsAfterWrites(Case):
    """A portal whose reads come from a replica a moment behind its writes
    (the contract does not promise to read one's own writes): after the
    first mutation, each read asked before it (same operation and
    variables) is answered once more as it was then; later reads are fresh."""

    name = "stale-reads-after-writes"

    def __init__(self) -> None:
        self.before_writes: dict[tuple[str, str], Json] = {}
        self.wrote = False
        self.stale: set[tuple[str, str]] = set()

    def answer(self, call: Call, answer: Json) -> Json:
        if call.is_mutation:
            self.wrote = True
            return answer
        key = (call.operation, json.dumps(call.variables, sort_keys=True))
        if not self.wrote:
            self.before_writes[key] = copy.deepcopy(answer)
        elif key in self.before_writes and key not in self.stale:
            self.stale.add(key)
            return self.before_writes[key]
        return answer


def _ascii_domain(email: str) -> str:
    local, at, domain = email.partition("@")
    return local + at + domain.encode("idna").decode("ascii") if at else email


def _ascii_domain_2008(email: str) -> str:
    """IDNA 2008 (RFC 5891) as a modern portal encodes: each non-ASCII label
    is ``xn--`` and its Punycode, ß and ς kept (IDNA 2003, Python's "idna"
    codec, maps them to ss and a medial sigma)."""
    local, at, domain = email.partition("@")
    labels = [
        label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        for label in domain.split(".")
    ]
    return local + at + ".".join(labels) if at else email


class _EmailsRewritten(Case):
    """A portal that stores every ``email`` a request holds as ``stored``
    makes it: each one in the request's variables is sent on so."""

    def stored(self, email: str) -> str:
        raise NotImplementedError

    def request(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        def convert(value: Any) -> Any:
            if isinstance(value, dict):
                return {
                    k: self.stored(v) if k == "email" and isinstance(v, str) else convert(v)
                    for k, v in value.items()
                }
            if isinstance(value, list):
                return [convert(item) for item in value]
            return value

        return {**body, "variables": convert(body.get("variables") or {})}


class AsciiDomains(_EmailsRewritten):
    """A portal that stores an e-mail address's internationalized domain in
    its ASCII form (``anna@bücher.example`` as ``anna@xn--bcher-kva.example``,
    IDNA), as it may: the contract says only that e-mails are unique
    case-insensitively."""

    name = "ascii-domains"

    def __init__(self, idna_2008: bool = False) -> None:
        self.encode = _ascii_domain_2008 if idna_2008 else _ascii_domain

    def stored(self, email: str) -> str:
        return self.encode(email)


class TagsDropped(_EmailsRewritten):
    """A portal that stores an e-mail address without its ``+tag``
    (``jo+team@x`` as ``jo@x``): a create of ``jo+team@x`` where ``jo@x``
    exists is CONFLICT."""

    name = "email-tags-dropped"

    def stored(self, email: str) -> str:
        local, at, domain = email.partition("@")
        return local.split("+", 1)[0] + at + domain
