"""The package layout of docs/architecture.md holds: no import cycle, imports point one way, modules stay small.

Every ``import`` in ``src/seco`` counts, also those inside functions (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src"
PACKAGE = SRC / "seco"
MAX_LINES = 450
BELOW_ENGINE = ("config", "data", "synthetic", "model", "method", "report")
ABOVE = ("engine", "evaluation", "tools", "pretrain", "bench", "cli", "commands")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """The seco modules ``name`` imports anywhere in its body (a package's submodule when one is named)."""
    path = MODULES[name]
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("seco"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if not base.startswith("seco"):
                continue
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_no_import_cycle() -> None:
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("layer", BELOW_ENGINE)
def test_nothing_below_engine_imports_from_above(layer: str) -> None:
    wrong = sorted(f"{m} -> {d}" for m, deps in GRAPH.items() if _top(m) == layer for d in deps if _top(d) in ABOVE)
    assert not wrong, f"{layer}/ reaches above engine/: " + ", ".join(wrong)


def test_the_training_loop_knows_the_method_only_through_its_builder() -> None:
    from_method = sorted(d for d in GRAPH["seco.engine.train"] if _top(d) == "method")
    assert from_method == ["seco.method.build"], from_method


def test_no_module_is_over_the_line_limit() -> None:
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_graph_sees_lazy_and_relative_imports() -> None:
    """The checks above are only as good as the graph: it must see an import inside a function and a relative one."""
    assert "seco.synthetic.cache" in GRAPH["seco.data.build"]  # imported inside a function
    assert "seco.method.losses.lil" in GRAPH["seco.method.losses"]  # `from .lil import ...`


def test_the_config_loads_without_torch() -> None:
    """The command line reads the config before any model exists: importing it must not load torch or timm."""
    import subprocess
    import sys

    probe = "import sys, seco.config; print(sorted(m for m in ('torch', 'timm') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(SRC)})
    assert done.stdout.strip() == "[]"
