"""The API's typed route table: each handler with the models of its inputs and answer.

A handler declares its inputs as parameters named `path`, `query` and `body`, each
annotated with a model (models.py); the route validates the request against them
before the handler runs, and the OpenAPI document (openapi.py) is generated from the
same table, so what is documented is what is checked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
import functools
import inspect
from typing import Any, Literal, get_args, get_type_hints

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core.core_schema import ErrorType
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from companion.errors import ApiError

MAX_BODY = 1 << 20
type Endpoint = Callable[[Request], Awaitable[Response]]
type Handler = Callable[..., Awaitable[Response]]
type Method = Literal["GET", "POST"]
type InputPart = Literal["path", "query", "body"]
INPUT_PARTS: tuple[InputPart, ...] = ("query", "body", "path")  # checked in this order
# Pydantic's own error types; any other type is a code of the API's own validators.
_PYDANTIC_ERROR_TYPES = frozenset(get_args(ErrorType))


@dataclass(frozen=True, slots=True)
class Invalid:
    """How any failure of the field it annotates is answered: a code, a message, the input to fix."""

    code: str
    message: str
    field: str | None = None
    status: int = 400


class ApiModel(BaseModel):
    """An input of the API: unknown names are refused, inputs never echoed in errors."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """One route of the API: its handler, inputs, answer and the errors it may give."""

    method: Method
    path: str
    handler: Handler
    inputs: Mapping[InputPart, type[ApiModel]]
    answer: Any
    status: int
    summary: str
    description: str | None
    body_required: bool
    errors: tuple[int, ...]
    error_notes: Mapping[int, str]
    name: str | None

    def route(self) -> Route:
        """The Starlette route: validate the inputs, then call the handler."""
        handler, inputs = self.handler, self.inputs

        async def endpoint(request: Request) -> Response:
            values: dict[str, ApiModel] = {}
            for part in INPUT_PARTS:
                if (model := inputs.get(part)) is not None:
                    values[part] = await _validated(request, part, model)
            return await handler(request, **values)

        functools.update_wrapper(endpoint, handler)
        return Route(self.path, endpoint, methods=[self.method], name=self.name)


@dataclass(slots=True)
class RouteTable:
    """The operations of one area of the API, added by decorating their handlers."""

    operations: list[Operation] = field(default_factory=list)

    def get(self, path: str, **details: Any) -> Callable[[Handler], Handler]:
        """Add a GET operation (see `add`)."""
        return self.add("GET", path, **details)

    def post(self, path: str, **details: Any) -> Callable[[Handler], Handler]:
        """Add a POST operation (see `add`)."""
        return self.add("POST", path, **details)

    def add(
        self,
        method: Method,
        path: str,
        *,
        answer: Any,
        errors: tuple[int, ...],
        status: int = 200,
        description: str | None = None,
        body_required: bool = False,
        error_notes: Mapping[int, str] | None = None,
        name: str | None = None,
    ) -> Callable[[Handler], Handler]:
        """Record the decorated handler; its docstring's first line is the summary."""

        def decorate(handler: Handler) -> Handler:
            self.operations.append(
                Operation(
                    method=method,
                    path=path,
                    handler=handler,
                    inputs=_inputs(handler),
                    answer=answer,
                    status=status,
                    summary=(inspect.getdoc(handler) or "")
                    .split("\n", 1)[0]
                    .rstrip("."),
                    description=description,
                    body_required=body_required,
                    errors=errors,
                    error_notes=error_notes or {},
                    name=name,
                )
            )
            return handler

        return decorate


def _inputs(handler: Handler) -> dict[InputPart, type[ApiModel]]:
    """The models of the handler's `path`, `query` and `body` parameters."""
    hints = get_type_hints(handler)
    inputs: dict[InputPart, type[ApiModel]] = {}
    for part in INPUT_PARTS:
        model = hints.get(part)
        if model is None:
            continue
        if not (isinstance(model, type) and issubclass(model, ApiModel)):
            raise TypeError(f"{handler.__qualname__}: {part} must be an ApiModel")
        inputs[part] = model
    return inputs


async def _validated(
    request: Request, part: InputPart, model: type[ApiModel]
) -> ApiModel:
    if part == "path":
        data: dict[str, Any] = dict(request.path_params)
    elif part == "query":
        data = dict(request.query_params)
    else:
        data = await json_object(request)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise api_error(
            err, model, "field" if part == "body" else "parameter"
        ) from None


def api_error(err: ValidationError, model: type[ApiModel], kind: str) -> ApiError:
    """The answer to a failed validation: the first problem, as the API words it.

    An unknown name comes first; a failure of the API's own validators keeps its
    code and message; any other failure of a field is answered as its `Invalid` says.
    """
    problems = err.errors(include_url=False, include_context=False, include_input=False)
    unknown = sorted(
        ".".join(str(part) for part in p["loc"])
        for p in problems
        if p["type"] == "extra_forbidden"
    )
    if unknown:
        return ApiError(400, "bad_parameter", f"unknown {kind} {unknown[0]!r}")
    problem = problems[0]
    name = str(problem["loc"][0]) if problem["loc"] else None
    # Where in a nested body: grid_import.windows.0.start.
    path = ".".join(str(part) for part in problem["loc"])
    invalid = _invalid(model, name)
    status = invalid.status if invalid else 400
    where = invalid.field if invalid else None
    if problem["type"] not in _PYDANTIC_ERROR_TYPES:
        return ApiError(status, problem["type"], problem["msg"], where)
    if invalid is not None:
        return ApiError(status, invalid.code, invalid.message, where)
    # A validator's own words, without pydantic's "Value error, " before them.
    message = problem["msg"].removeprefix("Value error, ")
    return ApiError(400, "bad_parameter", f"{path}: {message}")


def _invalid(model: type[ApiModel], name: str | None) -> Invalid | None:
    info = model.model_fields.get(name) if name is not None else None
    if info is None:
        return None
    return next((m for m in info.metadata if isinstance(m, Invalid)), None)


async def json_object(request: Request) -> dict[str, Any]:
    """The JSON object of a request body ({} when empty), at most MAX_BODY bytes."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise ApiError(413, "body_too_large", "the request body is too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # a chunked body has no length to check first
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, "body_too_large", "the request body is too large")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    return data
