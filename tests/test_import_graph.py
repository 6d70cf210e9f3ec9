"""The layers' import rules, read from the source (every import statement,
those inside functions included): the planner is pure, the sandbox is a
server of the contract that knows nothing of configs or plans, and the API
client never starts a sandbox."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "konvsync"

RULES = [
    ("konvsync.plan", ("konvsync.api", "konvsync.sandbox", "konvsync.cli")),
    ("konvsync.sandbox", ("konvsync.config", "konvsync.plan")),
    ("konvsync.api", ("konvsync.sandbox",)),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def within(name: str, package: str) -> bool:
    return (
        name == package
        or name.startswith(package + ".")
        or (package == "konvsync.cli" and name.startswith("konvsync.cli"))
    )


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@pytest.mark.parametrize(("layer", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_layer_imports_nothing_it_must_not(layer: str, forbidden: tuple[str, ...]) -> None:
    members = [name for name in MODULES if within(name, layer)]
    assert members, f"no modules in {layer}"
    offending = sorted(
        f"{name} imports {imported}"
        for name in members
        for imported in imports(MODULES[name])
        if any(within(imported, f) for f in forbidden)
    )
    assert offending == []


def test_the_rule_sees_an_offending_import(tmp_path: Path) -> None:
    """The check itself can fail: an import inside a function is found."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from konvsync.api.client import PortalClient\n")
    assert "konvsync.api.client" in imports(source)
    assert within("konvsync.cli_sandbox", "konvsync.cli")


MAX_MODULE_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    """One concept per module: a module that outgrows 400 lines is split."""
    long = {
        name: count
        for name, path in MODULES.items()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_tests_mirror_the_packages() -> None:
    """Each package of konvsync has its tests package of the same name."""
    tests = Path(__file__).resolve().parent
    packages = {p.parent.relative_to(PACKAGE) for p in PACKAGE.rglob("__init__.py")}
    missing = [str(p) for p in packages if p.parts and not (tests / p / "__init__.py").exists()]
    assert missing == []
