"""The one exception tree of konvsync and the exit codes it maps to.

Every error a user can cause is a ``KonvsyncError``; ``cli.main`` turns it into
one line on stderr and its ``exit_code``, an ``ExitStatus``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitStatus(IntEnum):
    """Exit codes are one contract for every command, because cron jobs and
    CI branch on them."""

    OK = 0
    """Success (with --detailed-exitcode: no changes; drift: no drift)."""
    ERROR = 1
    """An error of any kind, usage errors included (not click's 2)."""
    CHANGES = 2
    """Only ever "changes present" (plan --detailed-exitcode) or "drift found"."""
    REFUSED = 3
    """The plan was refused: unsafe (mass delete, portal guard...) or stale."""


class KonvsyncError(Exception):
    """Base of every error konvsync reports to a user."""

    exit_code = ExitStatus.ERROR


class UsageError(KonvsyncError):
    """Wrong flags or arguments."""


class SandboxBusy(UsageError):
    """The sandbox's database file is held by another sandbox process (a
    running ``konvsync sandbox``, or a command still running in the folder)."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path
        """The database file."""


class ConfigError(KonvsyncError):
    """The desired-state YAML cannot be used."""


@dataclass(frozen=True, order=True)
class ConfigProblem:
    """One problem found in the configuration, with its place."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"

    def as_warning(self) -> str:
        """The line of a warning: ``file:line:col: warning: message``."""
        return f"{self.file}:{self.line}:{self.column}: warning: {self.message}"


class ConfigInvalid(ConfigError):
    """One or more validation problems; all are reported at once."""

    def __init__(
        self, problems: list[ConfigProblem], warnings: list[ConfigProblem] | None = None
    ) -> None:
        self.problems = sorted(problems)
        self.warnings = list(warnings or [])
        """What is worth knowing beside the problems (a file that was not read
        may be why a reference is missing)."""
        self.shown = False
        """True once the problems were printed in another format (validate --format)."""
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"configuration invalid: {len(self.problems)} {noun}")


class OutputError(KonvsyncError):
    """An output file (plan, export) could not be written, or would overwrite
    configuration (export into a config folder without --force)."""


class OutputClosed(KonvsyncError):
    """Standard output cannot be written: its reader quit early (``plan |
    head -1``) or it is closed (``>&-``). The message says what the command
    had already written or done."""


class NotFoundError(KonvsyncError):
    """What was asked for is not in the portal (export --target)."""


class CredentialsError(KonvsyncError):
    """Credentials are missing or unusable."""


class AuthError(KonvsyncError):
    """The portal rejected the credentials or the token."""


class TransportError(KonvsyncError):
    """The portal could not be reached or kept failing."""


class AmbiguousRequestError(TransportError):
    """A non-idempotent request was sent and no answer came back (or one
    that does not say whether it ran: HTTP 500).

    The server may or may not have applied it; the caller must read the
    object back before deciding to send it again.
    """

    def __init__(self, message: str, resend: bool = True) -> None:
        super().__init__(message)
        self.resend = resend
        """Whether to send it again if it is not found: False after the
        server answered with an error of its own (HTTP 500), which a second
        try would meet again."""


class RemoteError(KonvsyncError):
    """The API answered with a GraphQL error."""

    def __init__(self, message: str, code: str = "INTERNAL") -> None:
        self.code = code
        super().__init__(f"{message} ({code})" if code else message)


class ContractError(KonvsyncError):
    """The portal answered something the API contract does not allow: a
    field missing or of the wrong type, a read that does not add up. Nothing
    is planned or written on the strength of such an answer."""

    PREFIX = "the portal's answer does not fit the API contract: "

    def __init__(self, operation: str, detail: str) -> None:
        self.operation = operation
        self.detail = detail
        super().__init__(f"{self.PREFIX}{operation}: {detail}")


class ReadChanged(KonvsyncError):
    """A read of the portal that does not add up in a way another writer,
    editing the portal while it was read, explains: ``totalCount`` changed
    between pages, an ID on two pages, the nodes not adding up to
    ``totalCount``, an object referring to one that the read of its kind did
    not show. ``detail`` says which. The read is made again
    (``api.pagination.read_consistently``); konvsync stops (exit 1, before
    anything is changed or written) when each of ``reads`` reads was so: then
    it may as well be a portal that does not page, count or refer as the
    contract says, and the message says both."""

    def __init__(self, detail: str, reads: int = 1) -> None:
        self.detail = detail
        if reads == 1:
            message = f"the portal changed while it was read: {detail}"
        else:
            message = (
                f"{ContractError.PREFIX}{detail} (so in each of {reads} reads: the portal "
                "changed while it was read each time, or it pages, counts or refers wrongly); "
                "nothing was changed or written: run again"
            )
        super().__init__(message)


class PlanError(KonvsyncError):
    """The plan cannot be made (conflicting remote objects, broken references)."""


class UnsafePlanError(KonvsyncError):
    """The plan is refused: mass delete or update, welcome e-mails, portal
    guard mismatch."""

    exit_code = ExitStatus.REFUSED
    plan: object | None = None
    """The refused plan (``plan.changes.Plan``), when there is one to show."""


class StalePlanError(KonvsyncError):
    """A saved plan no longer matches the portal, or a file ``drift --write``
    edits no longer holds what was read."""

    exit_code = ExitStatus.REFUSED


class ApplyCancelled(KonvsyncError):
    """The user did not answer 'yes'; nothing was changed."""


class SchemaMisfitError(KonvsyncError):
    """The portal's schema does not take what an apply would send; nothing
    was written."""

    exit_code = ExitStatus.REFUSED
