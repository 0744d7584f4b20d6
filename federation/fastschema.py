"""A fast, exact path for the JSON Schema validation of the wire format.

``jsonschema`` is general and slow (about 230 µs for one entry): it was most of the cost
of ingest after the signature. The schemas in ``schemas/`` use a small subset of JSON
Schema 2020-12, which this module translates into plain Python functions (a few µs for
one entry).

The fast check is only a shortcut in front of ``jsonschema``, never a replacement:

- a schema that uses any keyword outside the subset below is not compiled at all
  (``compile_schema`` returns ``None``) and ``jsonschema`` alone decides;
- a compiled check returns ``True`` only when the document is valid, ``False`` when it is
  not, and raises ``Unsure`` on anything it does not model exactly (a float where an
  integer is expected, an ``enum`` compared with a container, a non-JSON Python type...);
- ``federation.schema.validate`` runs ``jsonschema`` whenever the answer is not ``True``,
  so error messages and every corner case stay those of ``jsonschema``.

tests/test_fastschema.py checks that both agree on every example in ``schemas/examples``
and on many generated variations of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]
PatternCompiler = Callable[[str], "re.Pattern[str]"]


class Unsure(Exception):
    """The fast check cannot decide this document exactly: ask ``jsonschema``."""


class Unsupported(Exception):
    """The schema uses a keyword the fast path does not model."""


#: Keywords with no effect on validity (annotations; ``format`` is not asserted by the
#: validators of ``federation.schema``, which have no format checker).
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "format",
        # Without "if", "then" and "else" are ignored by JSON Schema too.
        "then",
        "else",
    }
)
_HANDLED = frozenset(
    {
        "type",
        "enum",
        "const",
        "required",
        "properties",
        "additionalProperties",
        "propertyNames",
        "minProperties",
        "maxProperties",
        "dependentRequired",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "$ref",
    }
)
_JSON_TYPES = frozenset({dict, list, str, int, float, bool, type(None)})
_TYPE_NAMES = {
    "object": "dict",
    "array": "list",
    "string": "str",
    "boolean": "bool",
    "null": "NoneType",
    "number": None,
    "integer": None,
}


def _scalar_equal(one: Any, two: Any) -> bool:
    """jsonschema's ``equal`` for two JSON scalars: a boolean is never a number."""
    if type(one) is str or type(two) is str:
        return bool(one == two)
    if type(one) is bool or type(two) is bool:
        return one is two
    return bool(one == two)


def _enum_check(values: list[Any]) -> Check:
    strings = frozenset(v for v in values if type(v) is str)
    scalars = [v for v in values if type(v) not in (str, list, dict)]
    containers = any(type(v) in (list, dict) for v in values)

    def enum(x: Any) -> bool:
        kind = type(x)
        if kind is str:
            return x in strings
        if kind is list or kind is dict:
            if containers:
                raise Unsure  # jsonschema's equality rules for containers
            return False
        return any(_scalar_equal(x, v) for v in scalars)

    return enum


def _unique(x: list[Any]) -> bool:
    if len(x) < 2:
        return True
    kind = type(x[0])
    if kind in (str, int) and all(type(v) is kind for v in x):
        return len(set(x)) == len(x)
    raise Unsure  # jsonschema's equality rules (1 == 1.0, True != 1, containers)


class _Generator:
    """Writes one Python function per schema node (``_f0``, ``_f1``...)."""

    def __init__(self, schemas: Mapping[str, Any], compile_pattern: PatternCompiler) -> None:
        self.schemas = schemas
        self.compile_pattern = compile_pattern
        self.names: dict[tuple[str, str], str] = {}
        self.functions: list[str] = []
        self.count = 0
        self.namespace: dict[str, Any] = {
            "Unsure": Unsure,
            "JSON": _JSON_TYPES,
            "NoneType": type(None),
            "MISSING": object(),
            "unique": _unique,
        }

    def constant(self, value: Any) -> str:
        name = f"_c{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def at(self, schema_id: str, pointer: str) -> str:
        """The function name of the schema at ``schema_id#pointer`` (written once)."""
        key = (schema_id, pointer)
        if key not in self.names:
            node: Any = self.schemas[schema_id]
            for part in filter(None, pointer.split("/")):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(node, dict) or part not in node:
                    raise Unsupported(f"pointer {pointer!r} in {schema_id}")
                node = node[part]
            self.names[key] = self.new_name()
            self.write(self.names[key], node, schema_id)
        return self.names[key]

    def new_name(self) -> str:
        self.count += 1
        return f"_f{self.count}"

    def sub(self, schema: Any, base: str) -> str:
        name = self.new_name()
        self.write(name, schema, base)
        return name

    def ref(self, ref: str, base: str) -> str:
        target, _, pointer = ref.partition("#")
        target = target or base
        if target not in self.schemas or (pointer and not pointer.startswith("/")):
            raise Unsupported(f"$ref {ref!r}")
        return self.at(target, pointer)

    def write(self, name: str, schema: Any, base: str) -> None:
        body: list[str] = []
        self.body(body, schema, base, "x", "t")
        lines = [f"def {name}(x):", "    t = type(x)", "    if t not in JSON: raise Unsure"]
        lines += ["    " + line for line in body]
        lines.append("    return True")
        self.functions.append("\n".join(lines))

    def inline(self, out: list[str], schema: Any, base: str, var: str) -> None:
        """Check the value in ``var`` in place: ``return False`` when it is invalid."""
        if schema is True:
            out.append(f"if type({var}) not in JSON: raise Unsure")
            return
        kind = "t" + var[1:]
        out.append(f"{kind} = type({var})")
        out.append(f"if {kind} not in JSON: raise Unsure")
        self.body(out, schema, base, var, kind)

    def variable(self) -> str:
        self.count += 1
        return f"v{self.count}"

    def body(self, out: list[str], schema: Any, base: str, x: str, t: str) -> None:
        if schema is True:
            return
        if schema is False:
            out.append("return False")
            return
        if not isinstance(schema, dict):
            raise Unsupported("schema is not an object")
        base = schema.get("$id", base)
        keys = set(schema) - _ANNOTATIONS
        if keys - _HANDLED:
            raise Unsupported(f"keywords {sorted(keys - _HANDLED)}")
        if "type" in keys:
            self.types(out, schema["type"], x, t)
        for word in ("enum", "const"):
            if word in keys:
                values = list(schema["enum"]) if word == "enum" else [schema["const"]]
                out.append(f"if not ({self.one_of_values(values, x, t)}): return False")
        self.objects(out, schema, keys, base, x, t)
        self.arrays(out, schema, keys, base, x, t)
        self.scalars(out, schema, keys, x, t)
        self.combinators(out, schema, keys, base, x, t)

    def one_of_values(self, values: list[Any], x: str, t: str) -> str:
        """An expression true when ``x`` equals one of ``values`` as jsonschema's ``equal``
        has it (a boolean is never a number, 1 == 1.0)."""
        if any(type(v) in (list, dict) for v in values):
            return f"{self.constant(_enum_check(values))}({x})"
        terms = []
        strings = [v for v in values if type(v) is str]
        if strings:
            terms.append(f"({t} is str and {x} in {self.constant(frozenset(strings))})")
        for value in values:
            if value is None:
                terms.append(f"{x} is None")
            elif type(value) is bool:
                terms.append(f"{x} is {value!r}")
            elif type(value) in (int, float):
                terms.append(f"(({t} is int or {t} is float) and {x} == {self.constant(value)})")
            elif type(value) is not str:
                raise Unsupported(f"enum value {value!r}")
        return " or ".join(terms) or "False"

    def types(self, out: list[str], names: Any, x: str, t: str) -> None:
        names = [names] if isinstance(names, str) else list(names)
        if any(n not in _TYPE_NAMES for n in names):
            raise Unsupported(f"type {names!r}")
        allowed = [name for n in names if (name := _TYPE_NAMES[n])]
        if "number" in names:
            allowed += ["int", "float"]
        elif "integer" in names:
            allowed.append("int")
        if len(allowed) == 1:
            out.append(f"if {t} is not {allowed[0]}:")
        else:
            out.append(f"if {t} not in ({', '.join(allowed)},):")
        if "integer" in names and "number" not in names:
            # 1.0 is an integer to JSON Schema: leave that to jsonschema.
            out.append(f"    if {t} is float and {x}.is_integer(): raise Unsure")
        out.append("    return False")

    def objects(
        self, out: list[str], schema: dict[str, Any], keys: set[str], base: str, x: str, t: str
    ) -> None:
        lines: list[str] = []
        if "required" in keys:
            required = self.constant(frozenset(schema["required"]))
            lines.append(f"if not {required}.issubset({x}): return False")
        if "additionalProperties" in keys and schema["additionalProperties"] is False:
            known = self.constant(frozenset(schema.get("properties", {})))
            lines.append(f"if not {known}.issuperset({x}): return False")
        for prop, sub in schema.get("properties", {}).items():
            if sub is True:
                continue
            v = self.variable()
            lines.append(f"{v} = {x}.get({prop!r}, MISSING)")
            lines.append(f"if {v} is not MISSING:")
            inner: list[str] = []
            self.inline(inner, sub, base, v)
            lines.extend("    " + line for line in inner)
        extra = schema.get("additionalProperties", True)
        if extra is not True and extra is not False:
            known = self.constant(frozenset(schema.get("properties", {})))
            k, v = self.variable(), self.variable()
            lines.append(f"for {k}, {v} in {x}.items():")
            lines.append(f"    if {k} not in {known}:")
            inner = []
            self.inline(inner, extra, base, v)
            lines.extend("        " + line for line in inner)
        if "propertyNames" in keys:
            k = self.variable()
            lines.append(f"for {k} in {x}:")
            inner = []
            self.inline(inner, schema["propertyNames"], base, k)
            lines.extend("    " + line for line in inner)
        for prop, needed in schema.get("dependentRequired", {}).items():
            required = self.constant(frozenset(needed))
            lines.append(f"if {prop!r} in {x} and not {required}.issubset({x}): return False")
        if "maxProperties" in keys:
            lines.append(f"if len({x}) > {int(schema['maxProperties'])}: return False")
        if "minProperties" in keys:
            lines.append(f"if len({x}) < {int(schema['minProperties'])}: return False")
        if lines:
            out.append(f"if {t} is dict:")
            out.extend("    " + line for line in lines)

    def arrays(
        self, out: list[str], schema: dict[str, Any], keys: set[str], base: str, x: str, t: str
    ) -> None:
        lines: list[str] = []
        if "minItems" in keys:
            lines.append(f"if len({x}) < {int(schema['minItems'])}: return False")
        if "maxItems" in keys:
            lines.append(f"if len({x}) > {int(schema['maxItems'])}: return False")
        if "items" in keys and schema["items"] is not True:
            if not isinstance(schema["items"], dict | bool):
                raise Unsupported("items as an array")
            v = self.variable()
            lines.append(f"for {v} in {x}:")
            inner: list[str] = []
            self.inline(inner, schema["items"], base, v)
            lines.extend("    " + line for line in inner)
        if schema.get("uniqueItems") is True:
            lines.append(f"if not unique({x}): return False")
        if lines:
            out.append(f"if {t} is list:")
            out.extend("    " + line for line in lines)

    def scalars(
        self, out: list[str], schema: dict[str, Any], keys: set[str], x: str, t: str
    ) -> None:
        lines: list[str] = []
        if "minLength" in keys:
            lines.append(f"if len({x}) < {int(schema['minLength'])}: return False")
        if "maxLength" in keys:
            lines.append(f"if len({x}) > {int(schema['maxLength'])}: return False")
        if "pattern" in keys:
            search = self.constant(self.compile_pattern(schema["pattern"]).search)
            lines.append(f"if {search}({x}) is None: return False")
        if lines:
            out.append(f"if {t} is str:")
            out.extend("    " + line for line in lines)
        numbers: list[str] = []
        for word, op in (
            ("minimum", "<"),
            ("maximum", ">"),
            ("exclusiveMinimum", "<="),
            ("exclusiveMaximum", ">="),
        ):
            if word in keys:
                bound = schema[word]
                if type(bound) not in (int, float):
                    raise Unsupported(f"{word} {bound!r}")
                numbers.append(f"if {x} {op} {bound!r}: return False")
        if numbers:
            out.append(f"if {t} is int or {t} is float:")
            out.extend("    " + line for line in numbers)

    def combinators(
        self, out: list[str], schema: dict[str, Any], keys: set[str], base: str, x: str, t: str
    ) -> None:
        if "$ref" in keys:
            out.append(f"if not {self.ref(schema['$ref'], base)}({x}): return False")
        if "allOf" in keys:
            for sub in schema["allOf"]:
                self.body(out, sub, base, x, t)
        if "anyOf" in keys:
            checks = [self.sub(sub, base) for sub in schema["anyOf"]]
            out.append(f"if not ({' or '.join(f'{c}({x})' for c in checks)}): return False")
        if "oneOf" in keys:
            checks = [self.sub(sub, base) for sub in schema["oneOf"]]
            total = " + ".join(f"bool({c}({x}))" for c in checks)
            out.append(f"if ({total}) != 1: return False")
        if "not" in keys:
            out.append(f"if {self.sub(schema['not'], base)}({x}): return False")
        if "if" in keys:
            condition = self.sub(schema["if"], base)
            then: list[str] = []
            otherwise: list[str] = []
            self.body(then, schema.get("then", True), base, x, t)
            self.body(otherwise, schema.get("else", True), base, x, t)
            out.append(f"if {condition}({x}):")
            out.extend("    " + line for line in then or ["pass"])
            if otherwise:
                out.append("else:")
                out.extend("    " + line for line in otherwise)


def compile_schema(
    schema_id: str, schemas: Mapping[str, Any], compile_pattern: PatternCompiler
) -> Check | None:
    """The exact fast check of ``schemas[schema_id]``, or ``None`` when its keywords (or
    those of a schema it refers to) are outside the modelled subset."""
    if schema_id not in schemas:
        return None
    generator = _Generator(schemas, compile_pattern)
    try:
        entry = generator.at(schema_id, "")
    except Unsupported:
        return None
    exec("\n\n".join(generator.functions), generator.namespace)
    check: Check = generator.namespace[entry]
    return check
