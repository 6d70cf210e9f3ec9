"""``konvsync doctor``: can we reach the portal, authenticate, and does its
schema accept every operation konvsync sends?"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from graphql import build_client_schema, get_introspection_query, parse, validate

from konvsync.api.connect import PortalTarget
from konvsync.api.documents import package_operations, viewer_query
from konvsync.errors import KonvsyncError


@dataclass(frozen=True)
class DoctorCheck:
    name: str
    ok: bool
    detail: str


@dataclass
class DoctorReport:
    checks: list[DoctorCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(DoctorCheck(name, ok, detail))
        return ok


def run_doctor(target: PortalTarget) -> DoctorReport:
    report = DoctorReport()
    report.add("endpoint", True, f"{target.endpoint.name} -> {target.endpoint.api_url}")
    report.add("credentials", True, f"API key {target.credentials.api_key}")
    try:
        asyncio.run(_remote_checks(target, report))
    except KonvsyncError as exc:
        report.add("connection", False, str(exc))
    return report


async def _remote_checks(target: PortalTarget, report: DoctorReport) -> None:
    client = target.client()
    async with client:
        try:
            await client.tokens.token(client.session)
        except KonvsyncError as exc:
            report.add("auth", False, f"{target.options.auth}: {exc}")
            return
        report.add("auth", True, f"{target.options.auth}: token obtained")
        viewer = (await client.execute(viewer_query(), label="Viewer")).raise_for_errors("viewer")
        report.add("viewer", True, f"portal {viewer['viewer']['portalName']!r}")
        introspection = (
            await client.execute(get_introspection_query(), label="introspection", verify=False)
        ).raise_for_errors("introspection")
        schema = build_client_schema(introspection)  # type: ignore[arg-type]
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
