"""JSON Schemas of schemas/, loaded once into a `referencing` registry so `$ref`s resolve across files.

Two validators serve each schema: jsonschema's (`validator`), which names every violation, and a compiled
one (`compiled`, jsonschema-rs), which only says yes or no, about a hundred times faster. Response
validation asks the compiled one first and jsonschema only for a body it rejects (scimcert/validation.py)."""

from __future__ import annotations

import json
from functools import cache

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from .paths import SCHEMAS


@cache
def registry() -> Registry:
    resources = []
    for path in sorted(SCHEMAS.rglob("*.json")):
        contents = json.loads(path.read_text("utf-8"))
        resources.append((contents["$id"], Resource.from_contents(contents)))
        resources.append((path.relative_to(SCHEMAS).as_posix(), Resource.from_contents(contents)))
    return Registry().with_resources(resources)


@cache
def validator(name: str) -> Draft202012Validator:
    """Validator for schemas/<name> (e.g. 'tenant.schema.json'), or for a subschema of one named by a
    JSON pointer fragment (e.g. 'idp/okta.json#/$defs/user')."""
    path, _, fragment = name.partition("#")
    schema = registry().contents(path)
    Draft202012Validator.check_schema(schema)
    if fragment:
        # A $ref to the file's $id keeps the file's base URI, so the subschema's own $refs resolve.
        dialect = schema.get("$schema", Draft202012Validator.META_SCHEMA["$id"])
        schema = {"$schema": dialect, "$ref": f"{schema['$id']}#{fragment}"}
    return Draft202012Validator(schema, registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)


@cache
def compiled(name: str) -> jsonschema_rs.Validator:
    """A compiled validator for schemas/<name>, named as for `validator`, that accepts what that one
    accepts: the same registry, and every format checked by jsonschema's own format checker (a format
    it cannot check, such as "uri" without rfc3987, passes in both)."""
    path, _, fragment = name.partition("#")
    schema = registry().contents(path)
    if fragment:
        schema = {"$schema": schema["$schema"], "$ref": f"{schema['$id']}#{fragment}"}
    checker = Draft202012Validator.FORMAT_CHECKER
    formats = {name: (lambda value, name=name: checker.conforms(value, name)) for name in _formats()}
    return jsonschema_rs.validator_for(schema, registry=_compiled_registry(), validate_formats=True, formats=formats)


@cache
def _compiled_registry() -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry([(contents["$id"], contents) for contents in _documents()])


@cache
def _formats() -> frozenset[str]:
    """Every "format" named in schemas/."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("format"), str):
                found.add(node["format"])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    for document in _documents():
        walk(document)
    return frozenset(found)


def _documents() -> list[dict]:
    return [registry().contents(path.relative_to(SCHEMAS).as_posix()) for path in sorted(SCHEMAS.rglob("*.json"))]


def errors(name: str, instance: object) -> list[ValidationError]:
    """Every violation of schemas/<name>, in a stable order (by JSON pointer)."""
    return sorted(validator(name).iter_errors(instance), key=lambda e: e.json_path)


def describe(error: ValidationError) -> str:
    return f"{error.json_path}: {error.message}"
