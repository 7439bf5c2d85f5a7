"""Data flows one way: a stage imports only earlier stages (DESIGN.md's pipeline).

Every `import` in framework/, at module level or inside a function (but not under
`if TYPE_CHECKING:`), is checked against the layer order below; an earlier stage
reaching forward is a failure that names the file, the line and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

FRAMEWORK = Path(__file__).resolve().parents[1] / "framework"

# Lowest first. A package may import its own layer and every layer before it.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"errors", "platform"}),  # facts: no stage
    frozenset({"isa"}),
    frozenset({"load"}),
    frozenset({"strategy"}),  # the protocol every stage calls; later stages' types only under TYPE_CHECKING
    frozenset({"verify"}),
    frozenset({"fixup"}),
    frozenset({"plan"}),  # the rewrite stage's artifact
    frozenset({"jit", "runtime"}),
    frozenset({"kernel"}),  # the emulated kernel every engine runs in
    frozenset({"run", "machine"}),  # the two engines and what they report
    frozenset({"measure"}),  # the figures, from runs side by side
    frozenset({"oracle"}),  # the live kernel, beside the pipeline
    frozenset({"hookspecs", "plugins", "listing", "object_listing", "provenance"}),
    frozenset({"cli", "__main__", "__init__"}),
)


def _layer(name: str) -> int:
    for i, members in enumerate(LAYERS):
        if name in members:
            return i
    raise AssertionError(f"framework.{name} is in no layer: add it to LAYERS in {__file__}")


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _walk(node: ast.AST) -> list[ast.AST]:
    """Every node, except what sits under `if TYPE_CHECKING:` (annotations, not imports at run time)."""
    out = [node]
    for child in ast.iter_child_nodes(node):
        if not _is_type_checking(child):
            out += _walk(child)
    return out


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in _walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, name) for line, name in found if name == "framework" or name.startswith("framework.")]


def _package_of(path: Path) -> str:
    rel = path.relative_to(FRAMEWORK)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def test_every_framework_module_is_in_a_layer() -> None:
    for path in FRAMEWORK.rglob("*.py"):
        _layer(_package_of(path))


def test_no_stage_imports_a_later_one() -> None:
    backwards = []
    for path in sorted(FRAMEWORK.rglob("*.py")):
        here = _package_of(path)
        for line, module in _imports(path):
            parts = module.split(".")
            if len(parts) < 2:
                continue  # `import framework` / `from framework import x`: the public API, top layer
            if _layer(parts[1]) > _layer(here):
                backwards.append(f"{path.relative_to(FRAMEWORK.parent)}:{line}: {here} imports {module}")
    assert backwards == []
