"""The package layout keeps its promises: imports only go down the layers, modules stay small, and
only `tasks/` knows what a classification loss or prediction is. Read with `ast`: nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nas_cli"
# Lower number = lower layer. A module may import its own package and any lower layer, nothing else:
# packages that share a number (the ones beside the flow) know nothing of each other.
LAYERS = {
    "ground": 0,  # nas_cli/errors.py, rundir.py, signals.py, hardware.py, process.py
    "tasks": 1, "data": 1, "spaces": 1,
    "strategies": 2,
    "trial": 3,
    "deploy": 4,
    "study": 5,
    "report": 6,
    "commands": 7,
    "entry": 8,  # nas_cli/cli.py, nas_cli/__main__.py
}
ENTRY = {"cli", "__main__"}
MAX_LINES = 250


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def layer_of(module: str) -> str:
    """'nas_cli.study.runner' -> 'study'; top-level modules are the ground layer (or the entry point)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "ground"
    if parts[1] in LAYERS:
        return parts[1]
    return "entry" if parts[1] in ENTRY else "ground"


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every nas_cli import in the file, lazy ones inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found += [(node.lineno, n) for n in names[:1] if n.startswith("nas_cli")]
            # `from nas_cli import signals` names a module: judge the module, not the package
            found += [(node.lineno, n) for n in names[1:] if node.module == "nas_cli" and (PACKAGE / f"{n.split('.')[-1]}.py").exists()]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("nas_cli")]
    return found


def layering_violations(paths) -> list[str]:
    bad = []
    for path in paths:
        here = module_name(path)
        mine = layer_of(here)
        for line, target in imported(path):
            theirs = layer_of(target)
            if target in ("nas_cli", "nas_cli.configs") or theirs == mine:
                continue
            if LAYERS[theirs] >= LAYERS[mine]:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {here} ({mine}) imports {target} ({theirs})")
    return bad


def test_imports_only_go_down_the_layers():
    assert layering_violations(modules()) == []


def test_the_layering_check_catches_an_upward_import(tmp_path):
    """The check itself can fail: a trial module importing the study runner is reported."""
    fake = PACKAGE / "trial" / "objective.py"
    source = fake.read_text(encoding="utf-8") + "\n\ndef _up():\n    from nas_cli.study.runner import run_study\n"
    copy = tmp_path / "objective.py"
    copy.write_text(source, encoding="utf-8")
    found = [line for _, line in imported(copy)]
    assert "nas_cli.study.runner" in found
    assert LAYERS[layer_of("nas_cli.study.runner")] > LAYERS[layer_of("nas_cli.trial.objective")]


@pytest.mark.parametrize("package", sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()
                                           and p.name in LAYERS))
def test_every_subpackage_says_what_it_does_and_may_import(package):
    doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text(encoding="utf-8")))
    assert doc and "May import" in doc, f"nas_cli/{package}/__init__.py needs a docstring saying what it may import"


def test_the_top_of_the_package_holds_only_the_entry_point_and_the_ground_layer():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == {"__init__", "__main__", "cli", "errors", "rundir", "signals", "hardware", "process"}


def test_no_module_is_over_250_lines():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def classification_calls(path: Path) -> list[str]:
    """Calls that compute a classification loss or prediction: cross_entropy / CrossEntropyLoss anywhere,
    and argmax over the class axis (`.argmax(1)`, `.argmax(dim=1)`, `.argmax(-1)`)."""
    bad = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("cross_entropy", "CrossEntropyLoss", "nll_loss"):
            bad.append(f"{path.name}:{node.lineno}: {name}")
        elif name == "argmax":
            axes = [*node.args[:1], *[k.value for k in node.keywords if k.arg in ("dim", "axis")]]
            if any(isinstance(a, (ast.Constant, ast.UnaryOp)) for a in axes):
                bad.append(f"{path.name}:{node.lineno}: argmax over the class axis")
    return bad


def test_only_tasks_name_the_classification_loss_and_predictions():
    """cross-entropy and argmax over classes live in nas_cli/tasks/: every other stage asks the task."""
    bad = [hit for path in modules() if path.parent.name != "tasks" for hit in classification_calls(path)]
    assert bad == []


def test_the_classification_check_finds_a_hard_coded_loss(tmp_path):
    code = tmp_path / "fit.py"
    code.write_text("import torch.nn.functional as F\n\ndef step(m, x, y):\n"
                    "    return F.cross_entropy(m(x), y), m(x).argmax(1)\n", encoding="utf-8")
    assert len(classification_calls(code)) == 2
    assert classification_calls(PACKAGE / "tasks" / "classification.py")  # where they belong
