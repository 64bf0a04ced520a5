"""The OpenAPI 3.1 document of the API, generated from its route table and models."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from companion.errors import ErrorBody

from .spec import ApiModel, Operation

_REF = "#/components/schemas/{model}"
_ERROR = {"$ref": _REF.format(model="ErrorBody")}
# What each error status means, unless an operation says more.
ERROR_STATUSES = {
    400: "invalid input: error.code says which (bad_parameter, bad_time, bad_range, "
    "bad_limit, bad_period, bad_json, …)",
    401: "missing or wrong bearer token",
    403: "cross-origin write",
    404: "unknown entity or job",
    409: "Home Assistant not configured",
    413: "body too large",
    415: "body is not JSON",
    422: "the connection test failed: error.code says how (ha_dns_failed, "
    "ha_connection_refused, ha_tls_error, ha_connection_closed, ha_timeout, "
    "ha_not_home_assistant, ha_access_denied, ha_auth_failed, ha_unreachable, "
    "ha_check_failed), error.field which input to fix",
    502: "Home Assistant answered with an error",
    503: "a database or Home Assistant is unavailable",
}
INFO = {
    "title": "Energy Tracker companion API",
    "version": "1.0.0",
    "description": "Readings and statistics of Home Assistant energy sensors kept in "
    "QuestDB.",
}


class ApiJsonSchema(GenerateJsonSchema):
    """Pydantic's JSON Schema as OpenAPI 3.1 reads best: null as a type, no titles."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        """`X | None` as `type: [X, "null"]` (and null in an enum) where X allows it."""
        inner = self.generate_inner(schema["schema"])
        if "$ref" in inner or not ({"type", "enum", "const"} & set(inner)):
            return super().nullable_schema(schema)
        nullable = dict(inner)
        if "const" in nullable:
            nullable["enum"] = [nullable.pop("const")]
        if "enum" in nullable:
            nullable["enum"] = [*nullable["enum"], None]
        if "type" in nullable:
            types = nullable["type"]
            nullable["type"] = [
                *(types if isinstance(types, list) else [types]),
                "null",
            ]
        return nullable

    def field_title_should_be_set(self, schema: Any) -> bool:
        """No titles: the property names say it."""
        return False


def _untitled(schema: JsonSchemaValue) -> JsonSchemaValue:
    """The schema without the titles pydantic gives models and typed dictionaries."""
    cleaned = {k: v for k, v in schema.items() if k != "title"}
    if "properties" in cleaned:
        cleaned["properties"] = {
            name: _untitled(value) for name, value in cleaned["properties"].items()
        }
    for key in ("items", "additionalProperties"):
        if isinstance(cleaned.get(key), dict):
            cleaned[key] = _untitled(cleaned[key])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in cleaned:
            cleaned[key] = [_untitled(member) for member in cleaned[key]]
    return cleaned


class _Schemas:
    """JSON Schemas of types, their shared definitions gathered as components."""

    def __init__(self) -> None:
        self.components: dict[str, JsonSchemaValue] = {}

    def of(
        self, shape: Any, mode: Literal["validation", "serialization"]
    ) -> JsonSchemaValue:
        """The schema of `shape`, inline; what it refers to goes to the components."""
        schema = TypeAdapter(shape).json_schema(
            mode=mode, ref_template=_REF, schema_generator=ApiJsonSchema
        )
        for name, definition in schema.pop("$defs", {}).items():
            self.add(name, definition)
        return _untitled(schema)

    def add(self, name: str, definition: JsonSchemaValue) -> None:
        """Add one component; two different shapes may not share a name."""
        definition = _untitled(definition)
        if self.components.setdefault(name, definition) != definition:
            raise ValueError(f"two shapes of the API are named {name}")


def _parameters(
    schemas: _Schemas, model: type[ApiModel], where: Literal["path", "query"]
) -> list[dict[str, Any]]:
    """One OpenAPI parameter per field of `model`."""
    schema = schemas.of(model, "validation")
    required = set(schema.get("required", ()))
    parameters = []
    for name, field_schema in schema["properties"].items():
        parameter_schema = _not_null(field_schema)
        description = parameter_schema.pop("description", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "schema": parameter_schema,
        }
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _not_null(schema: JsonSchemaValue) -> JsonSchemaValue:
    """A parameter's schema: absent, not null, is how it is left out."""
    schema = dict(schema)
    if schema.get("default", ...) is None:
        del schema["default"]
    if isinstance(types := schema.get("type"), list):
        kept = [t for t in types if t != "null"]
        schema["type"] = kept[0] if len(kept) == 1 else kept
    if "enum" in schema:
        schema["enum"] = [value for value in schema["enum"] if value is not None]
    if "anyOf" in schema:
        members = [m for m in schema.pop("anyOf") if m != {"type": "null"}]
        if len(members) == 1:
            schema.update(members[0])
        else:
            schema["anyOf"] = members
    return schema


def _json(schema: JsonSchemaValue) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _operation(schemas: _Schemas, operation: Operation) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": operation.handler.__name__,
        "summary": operation.summary,
    }
    if operation.description:
        document["description"] = operation.description
    parameters = [
        *(
            _parameters(schemas, model, "path")
            if (model := operation.inputs.get("path"))
            else []
        ),
        *(
            _parameters(schemas, model, "query")
            if (model := operation.inputs.get("query"))
            else []
        ),
    ]
    if parameters:
        document["parameters"] = parameters
    if (body := operation.inputs.get("body")) is not None:
        document["requestBody"] = {
            "required": operation.body_required,
            **_json(schemas.of(body, "validation")),
        }
    success = "job started" if operation.status == 202 else "OK"
    responses: dict[str, Any] = {
        str(operation.status): {
            "description": success,
            **_json(schemas.of(operation.answer, "serialization")),
        }
    }
    for status in sorted({*operation.errors, *operation.error_notes}):
        note = operation.error_notes.get(status, ERROR_STATUSES[status])
        responses[str(status)] = {"description": note, **_json(_ERROR)}
    document["responses"] = responses
    return document


def openapi_document(operations: Iterable[Operation], prefix: str) -> dict[str, Any]:
    """The OpenAPI document of `operations`, mounted at `prefix`."""
    schemas = _Schemas()
    schemas.add("ErrorBody", schemas.of(ErrorBody, "serialization"))
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(prefix + operation.path, {})[operation.method.lower()] = (
            _operation(schemas, operation)
        )
    return {
        "openapi": "3.1.0",
        "info": INFO,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": dict(sorted(schemas.components.items())),
        },
        "security": [{"bearer": []}, {}],
        "paths": paths,
    }
