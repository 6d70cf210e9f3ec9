"""The layers' import rules, read from the source (every import statement,
those inside functions included).

Folders are layers. ``LAYERS`` lists them from the top: a layer imports only
the layers listed after it. The sandbox stands beside them: a server of the
contract, it imports only ``kinds`` and ``support``, and only ``cli`` and
``app`` (which start it) import it. Every layer may import the package's face
(``konvsync``'s ``__version__`` and ``konvsync.errors``), which imports
nothing of konvsync.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "konvsync"

LAYERS = (
    "cli",
    "app",
    "render",
    "apply",
    "export",
    "drift",
    "api",
    "plan",
    "config",
    "kinds",
    "support",
)
SANDBOX = "sandbox"
SANDBOX_IMPORTS = ("kinds", "support")
SANDBOX_IMPORTED_BY = ("cli", "app")
FACE = ("konvsync", "konvsync.errors", "konvsync.__main__")
"""The top of ``konvsync/``: nothing else may live there."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The konvsync modules ``path`` imports (``from konvsync import x``
    counts as ``konvsync.x``, which may be a module or a name of the face)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "konvsync":
                found.update(f"konvsync.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
    return {name for name in found if name == "konvsync" or name.startswith("konvsync.")}


def layer_of(module: str) -> str | None:
    """The layer (folder) of a konvsync module; None for the face."""
    parts = module.split(".")
    if len(parts) < 2 or parts[1] in ("errors", "__main__", "__version__"):
        return None
    return parts[1]


def allowed(importer: str, imported: str) -> bool:
    """Whether a module of layer ``importer`` may import one of ``imported``."""
    if importer == imported:
        return True
    if importer == SANDBOX:
        return imported in SANDBOX_IMPORTS
    if imported == SANDBOX:
        return importer in SANDBOX_IMPORTED_BY
    if importer not in LAYERS or imported not in LAYERS:
        return False
    return LAYERS.index(imported) > LAYERS.index(importer)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def back_edges(modules: dict[str, Path]) -> list[str]:
    out = []
    for name, path in modules.items():
        layer = layer_of(name)
        for imported in sorted(imports(path)):
            target = layer_of(imported)
            if target is None:
                continue  # the face
            if layer is None:
                if name != "konvsync.__main__" or target != "cli":
                    out.append(f"{name} imports {imported}: the face imports nothing")
            elif not allowed(layer, target):
                out.append(f"{name} ({layer}) imports {imported} ({target})")
    return out


def test_every_import_goes_down_the_layers() -> None:
    assert back_edges(MODULES) == []


def test_the_top_of_the_package_is_its_face() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "errors.py"]
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == {*LAYERS, SANDBOX}


def test_the_face_imports_nothing_of_konvsync() -> None:
    assert imports(PACKAGE / "errors.py") == set()
    assert imports(PACKAGE / "__init__.py") == set()


@pytest.mark.parametrize(
    ("importer", "statement"),
    [
        ("plan/planner.py", "from konvsync.api.client import PortalClient"),
        ("config/loader.py", "def f():\n    from konvsync.plan import renames\n"),
        ("drift/writeback.py", "import konvsync.export.portal"),
        ("sandbox/store.py", "from konvsync.config.model import Source"),
        ("api/client.py", "from konvsync.sandbox.server import SandboxSettings"),
        ("support/files.py", "from konvsync import kinds"),
    ],
)
def test_a_back_edge_is_caught(tmp_path: Path, importer: str, statement: str) -> None:
    """The rule can fail: a throw-away import up the layers (inside a
    function too) is reported."""
    source = tmp_path / "m.py"
    source.write_text(statement + "\n")
    name = "konvsync." + importer.removesuffix(".py").replace("/", ".")
    assert back_edges({name: source}) != []


def test_tests_mirror_the_packages() -> None:
    """Each package of konvsync has its tests package of the same name."""
    tests = Path(__file__).resolve().parent
    packages = {p.parent.relative_to(PACKAGE) for p in PACKAGE.rglob("__init__.py")}
    missing = [str(p) for p in packages if p.parts and not (tests / p / "__init__.py").exists()]
    assert missing == []
