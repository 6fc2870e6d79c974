"""The import graph of referralnet/ follows the layering in DESIGN.md.

    core (db, extensions, errors, config, i18n, forms, web)
      <- accounts, directory, geo, audit  <- search  <- referrals
      <- notifications, portal, status, reports  <- api
    the app itself (the factory, models, home, demo) may import anything.

What is checked, over every `import` in the source (function-level ones too; imports under
`if TYPE_CHECKING:` are only for annotations and do not count):

- core modules import no feature package and no app module; feature packages import no app module;
- a package's domain modules (everything but its views, forms and CLI) import only packages of
  their own layer or below, and there is no cycle between packages;
- nobody imports another package's private name or private module;
- directory and accounts never import referrals.

A package's views, forms and CLI (`views.py`, `*_views.py`, `forms.py`, `cli.py`) are its
interface: only the app factory imports them, and they may use the services of any package
(the audit pages name users and organizations; the directory pages check roles). They are held
to the private-name rule and the last rule, not to the layering.
"""
from __future__ import annotations

import ast
from pathlib import Path

import referralnet

SOURCE = Path(referralnet.__file__).parent
CORE = {"db", "extensions", "errors", "config", "i18n", "forms", "web"}
APP = {"", "models", "home", "demo", "demo_referrals"}
LAYERS = [{"accounts", "directory", "geo", "audit"}, {"search"}, {"referrals"},
          {"notifications", "portal", "status", "reports"}, {"api"}]
LAYER = {package: n for n, packages in enumerate(LAYERS) for package in packages}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _is_interface(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return last in ("views", "forms", "cli") or last.endswith("_views")


def _imports() -> list[tuple[str, str, list[str], int]]:
    """(importing module, imported module, imported names, line) for every referralnet import."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        annotation_only = {id(sub) for node in ast.walk(tree)
                           if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                           for sub in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in annotation_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("referralnet"):
                names = [alias.name for alias in node.names]
                # `from referralnet.x import y` may name a module: count it as importing referralnet.x.y too.
                targets = [node.module] + [f"{node.module}.{n}" for n in names
                                           if (SOURCE.parent / f"{node.module}.{n}".replace(".", "/")).exists()
                                           or (SOURCE.parent / (f"{node.module}.{n}".replace(".", "/") + ".py")).exists()]
                found.extend((module, target, names, node.lineno) for target in targets)
            elif isinstance(node, ast.Import):
                found.extend((module, alias.name, [], node.lineno) for alias in node.names
                             if alias.name.startswith("referralnet"))
    return found


IMPORTS = _imports()


def test_the_source_is_read():
    packages = {_package(source) for source, *_ in IMPORTS}
    assert {"accounts", "audit", "directory", "referrals", "portal", "api"} <= packages


def test_core_and_features_do_not_import_upward_into_the_app():
    wrong = [f"{source}:{line} imports {target}" for source, target, _, line in IMPORTS
             if _package(target) in APP and _package(target) != _package(source) and _package(source) not in APP
             or _package(source) in CORE and _package(target) not in CORE | {""}]
    wrong = [w for w in wrong if not w.endswith(" imports referralnet")]  # `import referralnet` alone is the package
    assert not wrong, "\n".join(wrong)


def test_domain_modules_import_only_their_layer_or_below():
    wrong = [f"{source}:{line} imports {target}" for source, target, _, line in IMPORTS
             if _package(source) in LAYER and not _is_interface(source) and _package(target) in LAYER
             and LAYER[_package(target)] > LAYER[_package(source)]]
    assert not wrong, "\n".join(wrong)


def test_no_cycle_between_packages():
    graph: dict[str, set[str]] = {}
    for source, target, _, _ in IMPORTS:
        a, b = _package(source), _package(target)
        if a in LAYER and b in LAYER and a != b and not _is_interface(source):
            graph.setdefault(a, set()).add(b)

    def cycle_from(start: str, node: str, path: list[str]) -> list[str] | None:
        for following in sorted(graph.get(node, ())):
            if following == start:
                return path + [start]
            if following not in path:
                found = cycle_from(start, following, path + [following])
                if found:
                    return found
        return None

    for package in sorted(graph):
        cycle = cycle_from(package, package, [package])
        assert cycle is None, " -> ".join(cycle)


def test_no_package_imports_another_packages_private_names():
    wrong = []
    for source, target, names, line in IMPORTS:
        if _package(source) == _package(target):
            continue
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        private += [part for part in target.split(".") if part.startswith("_") and not part.startswith("__")]
        if private:
            wrong.append(f"{source}:{line} imports {target}: {', '.join(private)}")
    assert not wrong, "\n".join(wrong)


def test_directory_and_accounts_never_import_referrals():
    wrong = [f"{source}:{line} imports {target}" for source, target, _, line in IMPORTS
             if _package(source) in ("directory", "accounts") and _package(target) == "referrals"]
    assert not wrong, "\n".join(wrong)
