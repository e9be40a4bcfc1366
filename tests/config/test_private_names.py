"""No app imports another app's private (`_`-prefixed) name (issue #13).

The layers contract (`lint-imports`, pyproject.toml) says which app may import
which; this says what: only public names. A private name used from outside is a
public one in disguise (it gets renamed and loses its `_`), so the check reads
every module of the apps with `ast`, lazy imports inside functions included:
`from leads.filters import _start_of_day`, `import leads._x`, and
`filters._start_of_day` on a module imported from another app all fail.
Dunder names (`__version__`) are not private; attributes of classes (a model's
`_meta`, Django's public API) are not looked at.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("config", "reports", "leads", "sla", "revops")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _dotted(node: ast.AST) -> list[str] | None:
    """`a.b.c` as ["a", "b", "c"]; None for anything but names and attributes."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def private_uses(source: str, package: str) -> list[str]:
    """Another package's private names that `source` (a module of `package`) uses."""
    tree = ast.parse(source)
    found = []
    modules: dict[str, str] = {}  # local name -> a module of another package it stands for

    def foreign(dotted: str) -> bool:
        top = dotted.split(".")[0]
        return top in PACKAGES and top != package

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not foreign(alias.name):
                    continue
                if any(_private(part) for part in alias.name.split(".")):
                    found.append(f"line {node.lineno}: import {alias.name}")
                if alias.asname:
                    modules[alias.asname] = alias.name
                else:
                    modules[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and foreign(node.module):
            if any(_private(part) for part in node.module.split(".")):
                found.append(f"line {node.lineno}: from {node.module} import …")
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
                elif _is_module(f"{node.module}.{alias.name}"):
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        parts = _dotted(node)
        if not parts or parts[0] not in modules:
            continue
        # Follow the chain through modules; the first name that is not a module
        # is the one taken from the last module: that one must be public.
        path = modules[parts[0]]
        for part in parts[1:]:
            if _private(part):
                found.append(f"line {node.lineno}: {path}.{part}")
                break
            if not _is_module(f"{path}.{part}"):
                break
            path = f"{path}.{part}"
    return sorted(set(found))


def _sources():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield package, path


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from leads.filters import _start_of_day", ["line 1: from leads.filters import _start_of_day"]),
        ("def f():\n    from leads.actions import _move", ["line 2: from leads.actions import _move"]),
        ("import leads._hidden", ["line 1: import leads._hidden"]),
        ("from leads import filters\nfilters._start_of_day(1)", ["line 2: leads.filters._start_of_day"]),
        ("import leads.filters\nleads.filters._start_of_day(1)", ["line 2: leads.filters._start_of_day"]),
        ("from sla import _own", []),  # the package's own private names are its business
        ("from leads.models import Lead\nLead._meta.get_field('owner')", []),
        ("from revops import __name__", []),
    ],
)
def test_the_check_sees_private_names(source, expected):
    assert private_uses(source, "sla") == expected


def test_no_app_imports_another_apps_private_names():
    found = []
    for package, path in _sources():
        for use in private_uses(path.read_text(), package):
            found.append(f"{path.relative_to(ROOT)} {use}")
    assert not found, "private names of another app:\n" + "\n".join(found)
