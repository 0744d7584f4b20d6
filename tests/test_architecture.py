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
    "services api web db ops mail cooperation jobs runtime settings models migrations metrics store"
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


# -- one gateway to the data (issue 9, item 1) ------------------------------------------

#: SQL in a string: what runs against the database, not prose (an HTTP ``DELETE``).
SQL = re.compile(
    r"\b(?:SELECT\s+\S|INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM"
    r"|CREATE\s+(?:VIRTUAL\s+|UNIQUE\s+)?(?:TABLE|INDEX|TRIGGER)|PRAGMA\s+\w)"
)
#: The methods that run hand SQL on a connection.
RAW_SQL_CALLS = {
    "execute_query", "execute_query_dict", "execute_insert", "execute_many", "execute_script",
}  # fmt: skip
#: What the rest of the node may import from the ORM: transactions, the type of a
#: connection (services own the transactions and hand the store their connection) and
#: the database's errors.
ORM_ALLOWED = {"tortoise.transactions", "tortoise.backends.base.client", "tortoise.exceptions"}
#: The gateway, and the modules that open the database and declare its schema.
GATEWAY = ("node/store/", "node/db.py", "node/migrations.py", "node/models.py")
#: Modules whose SQL or ORM queries have not moved into node/store/ yet: none left (the
#: broadcast tree, ``services.tree``, was the last). This list only shrinks: a module that
#: no longer needs its place here fails the test.
NOT_YET_MOVED: set[str] = set()


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring nodes of a module, its classes and functions."""
    found = set()
    for node_ in ast.walk(tree):
        if isinstance(node_, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node_.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def data_access(source: str, package: str) -> list[str]:
    """What in ``source`` (a module of ``package``) touches the database itself: SQL
    strings, hand-SQL calls, imports of the ORM models or of the ORM's query API."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found = []
    for item in ast.walk(tree):
        if isinstance(item, ast.Constant) and isinstance(item.value, str):
            if id(item) not in docstrings and SQL.search(item.value):
                found.append(f"line {item.lineno}: SQL {item.value.strip()[:40]!r}")
        elif isinstance(item, ast.Attribute) and item.attr in RAW_SQL_CALLS:
            found.append(f"line {item.lineno}: {item.attr}")
        elif isinstance(item, ast.ImportFrom):
            module = item.module or ""
            if item.level:
                base = package.split(".")[: len(package.split(".")) - item.level + 1]
                module = ".".join([*base, module] if module else base)
            names = {alias.name for alias in item.names}
            if module == "node.models" or (module == "node" and "models" in names):
                found.append(f"line {item.lineno}: imports the ORM models")
            elif module.startswith("tortoise") and module not in ORM_ALLOWED:
                found.append(f"line {item.lineno}: imports {module}")
        elif isinstance(item, ast.Import):
            for alias in item.names:
                if alias.name == "node.models" or (
                    alias.name.startswith("tortoise") and alias.name not in ORM_ALLOWED
                ):
                    found.append(f"line {item.lineno}: imports {alias.name}")
    return found


def _node_modules() -> dict[str, list[str]]:
    """Each module of node/ outside the gateway, with what in it touches the database."""
    modules = {}
    for path in sorted((ROOT / "node").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name.startswith(GATEWAY):
            continue
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
        modules[name] = data_access(path.read_text(encoding="utf-8"), package)
    return modules


def test_sql_and_the_orm_only_in_the_store() -> None:
    modules = _node_modules()
    assert len(modules) > 100, len(modules)  # the walk sees the tree
    outside = {name: found for name, found in modules.items() if found}
    offending = {name: found for name, found in outside.items() if name not in NOT_YET_MOVED}
    assert not offending, f"SQL or ORM queries outside node/store/: {offending}"
    moved = sorted(NOT_YET_MOVED - set(outside))
    assert not moved, (
        f"these modules no longer touch the database: drop them from the list: {moved}"
    )


def test_the_gateway_check_tells_data_access() -> None:
    assert data_access('rows = await conn.execute_query_dict("SELECT 1")', "node.services")
    assert data_access("q = ' AND id NOT IN (SELECT peer_id FROM peer_links'", "node.web")
    assert data_access("x = f'UPDATE peers SET state = {s}'", "node.services")
    assert data_access("from ..models import Peer", "node.services")
    assert data_access("from .. import models", "node.web")
    assert data_access("from tortoise.expressions import Q", "node.web")
    assert data_access("import node.models", "node.web")
    assert not data_access("from ..store import blobs", "node.services")
    assert not data_access("from tortoise.transactions import in_transaction", "node.services")
    assert not data_access('"""SELECT the rows: prose."""\nx = "DELETE"', "node.api")
    assert not data_access("from .models import Loan", "federation")  # not node.models
