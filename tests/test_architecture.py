"""The layout is the architecture: imports point one way, downward, nothing imports a command, and no cycles.

Every import in every project file is read with `ast` (those inside functions too, since a lazy import is still a
dependency), resolved to a project module, and checked against the layers of ARCHITECTURE.md:

    run.py -> scripts -> assistant -> (scraper | corpus | training | generation)
           -> (model | demo | story_memory) -> common

A package may import its own modules and any package of a lower layer; packages of one layer do not import each
other; bench/ may import everything but commands. Tests are free to import anything (they test the commands).
"""

import ast
from pathlib import Path

from common.paths import REPO_ROOT

LAYERS = {"common": 0, "model": 1, "demo": 1, "story_memory": 1, "scraper": 2, "corpus": 2, "training": 2,
          "generation": 2, "assistant": 3, "scripts": 4, "run": 5}
CHECKED = [*LAYERS, "bench"]


def project_files() -> list[Path]:
    files = [REPO_ROOT / "run.py"]
    for package in CHECKED:
        folder = REPO_ROOT / package
        if folder.is_dir():
            files += sorted(folder.rglob("*.py"))
    return files


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(dotted: str) -> bool:
    base = REPO_ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(path: Path) -> set[str]:
    """The project modules a file imports (`from pkg import mod` counts as pkg.mod when that is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: resolve against this file's package
                own = module_name(path)
                package = own if path.name == "__init__.py" else own.rpartition(".")[0]
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" if is_module(f"{base}.{alias.name}") else base for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] in CHECKED:
                while name and not is_module(name):
                    name = name.rpartition(".")[0]
                if name:
                    found.add(name)
    return found


GRAPH = {module_name(p): imports_of(p) for p in project_files()}


def test_imports_point_downward_and_no_command_is_imported():
    wrong = []
    for module, targets in GRAPH.items():
        top = module.split(".")[0]
        for target in targets:
            other = target.split(".")[0]
            if other == top and top not in ("scripts", "run"):
                continue  # a package's own modules
            if other in ("scripts", "run") and top != "run":
                wrong.append(f"{module} imports the command {target}")
            elif top == "bench":
                continue  # benchmarks measure every layer
            elif other == "bench":
                wrong.append(f"{module} imports the benchmark {target}")
            elif LAYERS[other] >= LAYERS[top] and not (top == "run" and other == "scripts"):
                wrong.append(f"{module} (layer {LAYERS[top]}) imports {target} (layer {LAYERS[other]})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles():
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_the_checker_sees_lazy_and_package_imports(tmp_path):
    """The reader itself: an import inside a function and `from pkg import module` are both found."""
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from model import gpt\n    import common.paths\nfrom demo.stories import Story\n")
    assert imports_of(source) == {"model.gpt", "common.paths", "demo.stories"}


def test_no_file_edits_sys_path():
    offenders = [str(p.relative_to(REPO_ROOT)) for p in project_files() if "sys.path" in p.read_text(encoding="utf-8")]
    assert not offenders, offenders
