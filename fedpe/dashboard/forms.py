"""A tool's run form, made from its parameter schema (the deployment's, as the Prefect form uses),
and the form's values turned back into the tool's parameters.

What a property becomes: `server` a pick of one connected host, `clients`/`hosts` a pick of
several, `dataset` a pick from the hosts' catalogues; an enum a row of tabs (few values) or a
list; a union of objects told apart by a constant `name` (the strategies) one tab per member
with that member's own fields; an optional object (`dp`) a switch that shows its fields; a list
of strings a comma-separated line; numbers, whole numbers and switches as such; anything else
JSON. `x-shown-when: {"model": "mlp"}` in a property shows it only under that tab.

Form names are the parameter paths, with the member's name inside a union's
(`strategy.fedprox.mu`), so members that share a field keep their own values; problems name the
parameter path (`strategy.mu`), as the API's do.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from fedpe.errors import InvalidArgument

HOST_FIELDS = {"server"}
HOSTS_FIELDS = {"clients", "hosts"}
DATASET_FIELDS = {"dataset"}
TABS_UP_TO = 4  # enums with at most this many values are tabs, longer ones a list


@dataclass
class Variant:
    """One member of a union: its constant name and its own fields."""

    name: str
    title: str
    description: str
    fields: list["Field"]


@dataclass
class Field:
    path: str  # the parameter path: "rounds", "strategy", "dp.delta"
    input: str  # the form input's name: "rounds", "strategy.fedprox.mu", "dp.delta"
    kind: str  # host, hosts, dataset, enum, tabs, integer, number, boolean, string, strings, variant, object, json
    title: str
    description: str = ""
    default: Any = None
    required: bool = False
    nullable: bool = False
    limits: dict[str, Any] = field(default_factory=dict)
    options: list[str] = field(default_factory=list)
    variants: list[Variant] = field(default_factory=list)
    fields: list["Field"] = field(default_factory=list)
    shown_when: dict[str, str] = field(default_factory=dict)

    @property
    def dom_id(self) -> str:
        return "f-" + self.input.replace(".", "-").replace("_", "-")

    @property
    def problem_id(self) -> str:
        return "problem-" + self.input.replace(".", "-").replace("_", "-")

    @property
    def default_text(self) -> str:
        if self.default is None:
            return ""
        if self.kind == "strings" and isinstance(self.default, list):
            return ", ".join(map(str, self.default))
        if self.kind == "json":
            return json.dumps(self.default, indent=2)
        return str(self.default)

    @property
    def step(self) -> str:
        return "1" if self.kind == "integer" else "any"

    def walk(self):
        yield self
        for variant in self.variants:
            for sub in variant.fields:
                yield from sub.walk()
        for sub in self.fields:
            yield from sub.walk()


def _resolve(schema: dict, node: dict) -> dict:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        return (schema.get("definitions") or {}).get(ref.rsplit("/", 1)[-1], {})
    return node


def _title(name: str, node: dict) -> str:
    title = node.get("title") or name
    return title.replace("_", " ") if title == name else title


def _limits(node: dict) -> dict[str, Any]:
    return {k: node[k] for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
                                 "maxLength", "pattern") if k in node}


def _field(schema: dict, name: str, path: str, input_name: str, node: dict, required: bool) -> Field:
    common = {"path": path, "input": input_name, "title": _title(name, node),
              "description": (node.get("description") or "").strip(), "default": node.get("default"),
              "required": required, "shown_when": dict(node.get("x-shown-when") or {})}
    options = node.get("anyOf")
    if isinstance(options, list):
        members = [_resolve(schema, o) for o in options]
        objects = [m for m in members if m.get("type") == "object"]
        nullable = any(m.get("type") == "null" for m in members)
        named = [m for m in objects if "const" in ((m.get("properties") or {}).get("name") or {})]
        if named and len(named) == len(objects) and len(named) > 1:
            variants = []
            for member in named:
                tag = member["properties"]["name"]["const"]
                subs = [_field(schema, k, f"{path}.{k}", f"{input_name}.{tag}.{k}", v, k in (member.get("required") or []))
                        for k, v in (member.get("properties") or {}).items() if k != "name"]
                variants.append(Variant(tag, member.get("title", tag).removesuffix("Config") or tag,
                                        (member.get("description") or "").strip(), subs))
            default = node.get("default")
            common["default"] = default.get("name") if isinstance(default, dict) else variants[0].name
            return Field(kind="variant", variants=variants, nullable=nullable, **common)
        if len(objects) == 1 and nullable and len(members) == 2:
            obj = objects[0]
            subs = [_field(schema, k, f"{path}.{k}", f"{input_name}.{k}", v, k in (obj.get("required") or []))
                    for k, v in (obj.get("properties") or {}).items()]
            return Field(kind="object", fields=subs, nullable=True,
                         **{**common, "description": common["description"] or (obj.get("description") or "")})
        scalars = [m for m in members if m.get("type") != "null"]
        if len(scalars) == 1 and nullable:
            inner = _field(schema, name, path, input_name, {**scalars[0], **{k: v for k, v in node.items()
                                                                              if k not in ("anyOf",)}}, required)
            inner.nullable = True
            return inner
        return Field(kind="json", **common)
    node = _resolve(schema, node)
    kind = node.get("type")
    if name in HOST_FIELDS and kind == "string" and path == name:
        return Field(kind="host", limits=_limits(node), **common)
    if name in HOSTS_FIELDS and kind == "array" and path == name:
        return Field(kind="hosts", **common)
    if name in DATASET_FIELDS and kind == "string" and path == name:
        return Field(kind="dataset", limits=_limits(node), **common)
    if "enum" in node:
        values = [str(v) for v in node["enum"]]
        return Field(kind="tabs" if len(values) <= TABS_UP_TO else "enum", options=values, **common)
    if kind in ("integer", "number", "boolean"):
        return Field(kind=kind, limits=_limits(node), **common)
    if kind == "string":
        return Field(kind="string", limits=_limits(node), **common)
    if kind == "array" and ((node.get("items") or {}).get("type") == "string"):
        return Field(kind="strings", **common)
    return Field(kind="json", **common)


def fields(schema: dict) -> list[Field]:
    """The form's fields, in the flow signature's order."""
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    ordered = sorted(properties.items(), key=lambda kv: kv[1].get("position", 0))
    return [_field(schema, name, name, name, node, name in required) for name, node in ordered]


def all_fields(form_fields: list[Field]):
    for f in form_fields:
        yield from f.walk()


# the form's values -> the tool's parameters ---------------------------------------------------

def _text(values: dict[str, list[str]], name: str) -> str:
    return ((values.get(name) or [""])[0]).strip()


def _scalar(f: Field, raw: str) -> Any:
    """One typed value, or InvalidArgument naming the field."""
    if f.kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise InvalidArgument(f"{f.path}: {raw!r} is not a whole number", field=f.path) from None
    if f.kind == "number":
        try:
            value = float(raw)
        except ValueError:
            raise InvalidArgument(f"{f.path}: {raw!r} is not a number", field=f.path) from None
        if not math.isfinite(value):
            raise InvalidArgument(f"{f.path}: must be a finite number", field=f.path)
        return value
    if f.kind in ("enum", "tabs") and f.options and raw not in f.options:
        raise InvalidArgument(f"{f.path}: one of {', '.join(f.options)}", field=f.path)
    return raw


_ABSENT = object()


def _value(f: Field, values: dict[str, list[str]]) -> Any:
    """The field's value from the form: _ABSENT when left empty (the tool's default applies)."""
    if f.kind == "hosts":
        picked = [v.strip() for v in values.get(f.input) or [] if v.strip()]
        return picked if picked else _ABSENT
    if f.kind == "boolean":
        return _text(values, f.input) in ("on", "true", "1", "yes")
    if f.kind == "strings":
        items = [p.strip() for p in _text(values, f.input).split(",") if p.strip()]
        return items if items else _ABSENT
    if f.kind == "json":
        raw = _text(values, f.input)
        if not raw:
            return _ABSENT
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise InvalidArgument(f"{f.path}: not valid JSON ({exc.msg}, line {exc.lineno})", field=f.path) from None
    if f.kind == "variant":
        chosen = _text(values, f.input) or f.default
        variant = next((v for v in f.variants if v.name == chosen), None)
        if variant is None:
            raise InvalidArgument(f"{f.path}.name: one of {', '.join(v.name for v in f.variants)}",
                                  field=f"{f.path}.name")
        out: dict[str, Any] = {"name": variant.name}
        out.update(_collect(variant.fields, values, prefix_len=len(f.path) + 1))
        return out
    if f.kind == "object":
        if _text(values, f.input) not in ("on", "true", "1", "yes"):
            return _ABSENT
        return _collect(f.fields, values, prefix_len=len(f.path) + 1)
    raw = _text(values, f.input)
    if raw == "":
        return _ABSENT
    return _scalar(f, raw)


def _collect(form_fields: list[Field], values: dict[str, list[str]], prefix_len: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in form_fields:
        value = _value(f, values)
        if value is not _ABSENT:
            out[f.path[prefix_len:]] = value
    return out


def parameters(form_fields: list[Field], values: dict[str, list[str]]) -> tuple[dict[str, Any], list[InvalidArgument]]:
    """(parameters, problems) of a filled-in form: every field that fails to read is a problem
    naming it; fields left empty are left out, so the tool's defaults apply."""
    params: dict[str, Any] = {}
    problems: list[InvalidArgument] = []
    for f in form_fields:
        try:
            value = _value(f, values)
        except InvalidArgument as exc:
            problems.append(exc)
            continue
        if isinstance(value, dict):  # a union or object whose own fields may have failed
            try:
                _check_nested(f, values)
            except InvalidArgument as exc:
                problems.append(exc)
        if value is not _ABSENT:
            params[f.path] = value
        elif f.required:
            problems.append(InvalidArgument(f"{f.path}: required", field=f.path))
    return params, problems


def _check_nested(f: Field, values: dict[str, list[str]]) -> None:
    """Required fields inside a chosen union member or a switched-on object."""
    subs = f.fields
    if f.kind == "variant":
        chosen = _text(values, f.input) or f.default
        subs = next((v.fields for v in f.variants if v.name == chosen), [])
    for sub in subs:
        if sub.required and _value(sub, values) is _ABSENT:
            raise InvalidArgument(f"{sub.path}: required", field=sub.path)


def slot(form_fields: list[Field], values: dict[str, list[str]], problem_field: str | None) -> str | None:
    """The form input where a problem of `problem_field` (a parameter path) is shown."""
    if not problem_field:
        return None
    head, _, rest = problem_field.partition(".")
    for f in form_fields:
        if f.path != head:
            continue
        if f.kind == "variant" and rest and rest != "name":
            chosen = _text(values, f.input) or f.default
            return f"{f.input}.{chosen}.{rest}"
        if f.kind == "object" and rest:
            return f"{f.input}.{rest}"
        return f.input
    return None


def filled(form_fields: list[Field], params: dict[str, Any]) -> dict[str, list[str]]:
    """Form values that show `params` (a clone's, or a form sent back with its problems)."""
    values: dict[str, list[str]] = {}

    def put(f: Field, value: Any) -> None:
        if value is None:
            return
        if f.kind == "hosts":
            values[f.input] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        elif f.kind == "boolean":
            values[f.input] = ["on"] if value else []
        elif f.kind == "strings":
            values[f.input] = [", ".join(map(str, value))] if isinstance(value, list) else [str(value)]
        elif f.kind == "json":
            values[f.input] = [json.dumps(value, indent=2)]
        elif f.kind == "variant" and isinstance(value, dict):
            values[f.input] = [str(value.get("name") or f.default)]
            variant = next((v for v in f.variants if v.name == value.get("name")), None)
            for sub in variant.fields if variant else []:
                put(sub, value.get(sub.path.rsplit(".", 1)[-1]))
        elif f.kind == "object" and isinstance(value, dict):
            values[f.input] = ["on"]
            for sub in f.fields:
                put(sub, value.get(sub.path.rsplit(".", 1)[-1]))
        else:
            values[f.input] = [str(value)]

    for f in form_fields:
        if f.path in params:
            put(f, params[f.path])
    return values


def initial(form_fields: list[Field]) -> dict[str, list[str]]:
    """Form values that show every field's default."""
    values: dict[str, list[str]] = {}
    for f in all_fields(form_fields):
        if f.kind == "variant":
            values[f.input] = [str(f.default)]
        elif f.kind == "boolean":
            values[f.input] = ["on"] if f.default else []
        elif f.kind in ("object", "hosts", "host"):
            continue
        elif f.default is not None:
            values[f.input] = [f.default_text]
    return values
