"""JSON Schemas of schemas/, loaded once into a `referencing` registry so `$ref`s resolve across files."""

from __future__ import annotations

import json
from functools import cache

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


def errors(name: str, instance: object) -> list[ValidationError]:
    """Every violation of schemas/<name>, in a stable order (by JSON pointer)."""
    return sorted(validator(name).iter_errors(instance), key=lambda e: e.json_path)


def describe(error: ValidationError) -> str:
    return f"{error.json_path}: {error.message}"
