"""``konvsync doctor``: which proxy (if any) the requests go through, can
we reach the portal, authenticate, and does its
schema accept every operation konvsync sends and every input field in their
variables? With a config, do the slugs it refers to (LMS modules, DAM
categories) exist in the portal?"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from graphql import GraphQLError, build_client_schema, parse, validate

from konvsync.api.auth import TokenEndpointBusy
from konvsync.api.client import PortalClient
from konvsync.api.connect import PortalTarget
from konvsync.api.documents import package_operations
from konvsync.api.input_check import misfits
from konvsync.api.operations import viewer_document
from konvsync.api.pagination import read_consistently, read_kinds
from konvsync.api.schema_facts import introspected
from konvsync.config.model import DesiredState
from konvsync.errors import ConfigInvalid, KonvsyncError, RemoteError
from konvsync.kinds import kind
from konvsync.plan.planner import check_references, referred_reference_kinds
from konvsync.plan.remote import holders_of, normalize_nodes


@dataclass(frozen=True)
class DoctorCheck:
    name: str
    ok: bool
    detail: str
    unmade: bool = False
    """It could not be made, and that is no problem of the portal's (one that
    refuses introspection, as production servers may: apply then warns and
    goes on); ``ok`` is True."""


@dataclass
class DoctorReport:
    checks: list[DoctorCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def unmade(self) -> int:
        return sum(1 for c in self.checks if c.unmade)

    def add(self, name: str, ok: bool, detail: str, unmade: bool = False) -> bool:
        self.checks.append(DoctorCheck(name, ok, detail, unmade))
        return ok


def run_doctor(target: PortalTarget, desired: DesiredState | None = None) -> DoctorReport:
    report = DoctorReport()
    report.add("endpoint", True, f"{target.endpoint.name} -> {target.endpoint.api_url}")
    report.add("proxy", True, f"{target.endpoint.api_url} {target.api_route.describe()}")
    if target.options.auth == "oauth":
        route = target.token_route.describe()
        report.add("proxy", True, f"{target.endpoint.token_url} {route}")
    report.add("credentials", True, f"API key {target.credentials.api_key}")
    try:
        asyncio.run(_remote_checks(target, report, desired))
    except KonvsyncError as exc:
        report.add("connection", False, str(exc))
    return report


async def _remote_checks(
    target: PortalTarget, report: DoctorReport, desired: DesiredState | None
) -> None:
    client = target.client()
    async with client:
        try:
            await client.tokens.token(client.session)
        except KonvsyncError as exc:
            where = f" ({exc.url})" if isinstance(exc, TokenEndpointBusy) else ""
            report.add("auth", False, f"{target.options.auth}: {exc}{where}")
            return
        report.add("auth", True, f"{target.options.auth}: token obtained")
        viewer = (await client.execute(viewer_document(), label="Viewer")).raise_for_errors(
            "viewer"
        )
        report.add("viewer", True, f"portal {viewer['viewer']['portalName']!r}")
        if await _schema_checks(client, report) and desired is not None:
            await _reference_checks(client, desired, report)


async def _schema_checks(client: PortalClient, report: DoctorReport) -> bool:
    """Every operation and input field konvsync sends against the portal's
    schema; False when its schema could not be read (nothing more is
    checked). A portal that refuses introspection is a check not made."""
    try:
        introspection = await introspected(client)
    except RemoteError as exc:  # answered, with an error: refused, not unreachable
        report.add(
            "schema",
            True,
            f"the portal refuses introspection ({exc}): konvsync's operations and input "
            "fields could not be checked against its schema (apply warns so and sends them "
            "as the contract has them)",
            unmade=True,
        )
        return True
    try:
        # assume_valid: what can be checked still is (as apply's check)
        schema = build_client_schema(introspection, assume_valid=True)  # type: ignore[arg-type]
    except (GraphQLError, TypeError, KeyError, ValueError) as exc:
        report.add("schema", False, f"the portal's schema could not be read ({exc})")
        return False
    operations = package_operations()
    broken = 0
    for operation in operations:
        errors = validate(schema, parse(operation.text))
        for error in errors:
            broken += 1
            report.add("schema", False, f"{operation.name} ({operation.file}): {error.message}")
    if not broken:
        report.add(
            "schema",
            True,
            f"all {len(operations)} operations valid against the portal's schema",
        )
    inputs = misfits(schema)
    for problem in inputs:
        report.add("inputs", False, problem)
    if not inputs:
        report.add(
            "inputs",
            True,
            "every input field konvsync sends (all kinds) is in the portal's input types",
        )
    return True


async def _reference_checks(
    client: PortalClient, desired: DesiredState, report: DoctorReport
) -> None:
    """The config's references to reference kinds (slugs), against the portal."""
    names = sorted(referred_reference_kinds(desired))
    if not names:
        report.add("references", True, "the configuration refers to no LMS module or DAM category")
        return
    # With the kinds that hold them: a portal's list may leave out what a
    # group still holds (an archived module), known by the group's answer.
    kinds = [kind(n) for n in (*names, *holders_of(names))]
    remote = normalize_nodes(await read_consistently(lambda: read_kinds(client, kinds)))
    try:
        check_references(desired, remote, only=set(names))
    except ConfigInvalid as exc:
        for problem in exc.problems:
            report.add("references", False, str(problem))
        return
    report.add("references", True, f"every slug the configuration uses exists ({', '.join(names)})")
