"""docs/architecture.md stays true to the code: every dotted name it cites in backquotes
(``services.receive.receive``, ``Node.wake_sync``, ``db.PRAGMAS``) can be imported, and
the import cycle it says is gone stays gone."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import federation
import node

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"

#: How the page shortens the project's modules: ``services.log.publish`` is
#: ``node.services.log.publish``; ``federation.x`` and ``node.x`` are themselves.
_SHORTENED = (
    "services api web db ops mail cooperation jobs runtime settings models migrations metrics"
)
SHORTHANDS = {"federation": "federation", "node": "node"} | {
    name: f"node.{name}" for name in _SHORTENED.split()
}
#: A name in backquotes, with dots, maybe called: `a.b.c` or `a.b()`.
CITED = re.compile(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\([^`]*\))?`")
#: Last parts that make a citation a file name, not a Python name.
FILE_SUFFIXES = {"py", "md", "json", "txt", "toml", "csv", "gz", "po", "html", "lock"}


def _classes() -> dict[str, type]:
    """The project's classes by name, for citations such as ``Node.wake_sync``."""
    found: dict[str, type] = {}
    for package in (node, federation):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                if isinstance(value, type) and value.__module__ == info.name:
                    found.setdefault(name, value)
    return found


def _attribute_of(target: object, name: str) -> object | None:
    if hasattr(target, name):
        return getattr(target, name)
    if isinstance(target, type):
        # A dataclass field without a default, or an attribute set in ``__init__``.
        if name in getattr(target, "__dataclass_fields__", {}):
            return name
        if re.search(rf"self\.{name}\s*[:=]", inspect.getsource(target)):
            return name
    return None


def resolve(name: str, classes: dict[str, type]) -> bool:
    parts = name.split(".")
    target: object
    if parts[0] in classes:
        target, rest = classes[parts[0]], parts[1:]
    else:
        dotted = [SHORTHANDS[parts[0]], *parts[1:]]
        for cut in range(len(dotted), 0, -1):
            try:
                target = importlib.import_module(".".join(dotted[:cut]))
            except ModuleNotFoundError:
                continue
            rest = dotted[cut:]
            break
        else:
            return False
    for part in rest:
        found = _attribute_of(target, part)
        if found is None:
            return False
        target = found
    return True


def cited_names(text: str, classes: dict[str, type]) -> set[str]:
    names = set()
    for name in CITED.findall(text):
        first, last = name.split(".")[0], name.split(".")[-1]
        if last in FILE_SUFFIXES:
            continue
        if first in SHORTHANDS or (first in classes and first[0].isupper()):
            names.add(name)
    return names


def test_every_dotted_name_cited_in_the_architecture_page_resolves() -> None:
    classes = _classes()
    cited = cited_names(ARCHITECTURE.read_text(encoding="utf-8"), classes)
    assert len(cited) > 30, sorted(cited)  # the check reads the page as meant
    unknown = sorted(name for name in cited if not resolve(name, classes))
    assert not unknown, f"docs/architecture.md cites names that do not exist: {unknown}"


def test_the_check_tells_a_missing_name() -> None:
    classes = _classes()
    assert resolve("services.receive.receive", classes)
    assert resolve("Node.write_lock", classes)
    assert not resolve("services.log.read_entries", classes)  # moved to services.entries
    assert not resolve("db.lock_for_write", classes)
    assert not resolve("Ingestor.ingest_everything", classes)


def _imports(module: Path) -> set[str]:
    """The ``node.services`` modules ``module`` imports, at any depth of its code."""
    found = set()
    for statement in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(statement, ast.ImportFrom) and statement.level == 1:
            if statement.module:
                found.add(statement.module.split(".")[0])
            else:
                found.update(alias.name for alias in statement.names)
    return found


def test_the_write_path_and_the_delivery_worker_do_not_import_each_other() -> None:
    services = ROOT / "node" / "services"
    assert "deliveries" in _imports(services / "log.py")
    assert "log" not in _imports(services / "deliveries.py")
    assert "sync" not in _imports(services / "deliveries.py")
