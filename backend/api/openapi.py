"""The OpenAPI 3.1 document, generated from the routes that really exist.

Routers declare their bodies and responses with the helpers below; `build_openapi` asks
FastAPI for the paths, then adds what the contract requires everywhere: bearer security
(except on public routes), the request-id and audit attribution headers, the `Error`
schema on failures, and `{"items": [...]}` wrappers for lists.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from backend.api.idempotency import CREATE_PATHS
from backend.schemas import ErrorBody
from backend.settings import API_VERSION

PUBLIC_OPERATIONS = {("get", "/healthz"), ("get", "/v1/info")}
TAGS = [
    "system",
    "runtime",
    "audit",
    "projects",
    "templates",
    "sandboxes",
    "sessions",
    "tasks",
    "artifacts",
    "credentials",
    "tokens",
]
ATTRIBUTION_HEADERS = ("X-Mbox-Request-ID", "X-Mbox-Audit-Actor", "X-Mbox-Audit-Source")
_REQUEST_MODELS: dict[str, type[BaseModel]] = {}
_RESPONSE_MODELS: dict[str, type[BaseModel]] = {"Error": ErrorBody}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def returns(model: type[BaseModel], status: int = 200) -> dict[int, Any]:
    _RESPONSE_MODELS[model.__name__] = model
    return {status: _json(_ref(model.__name__), "Created" if status == 201 else "OK")}


def returns_list(model: type[BaseModel]) -> dict[int, Any]:
    _RESPONSE_MODELS[model.__name__] = model
    wrapper = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": _ref(model.__name__)}},
        "required": ["items"],
    }
    return {200: _json(wrapper, "OK")}


def schema_only(model: type[BaseModel]) -> dict[int, Any]:
    """Register a component schema referenced by hand (e.g. an NDJSON line)."""
    _RESPONSE_MODELS[model.__name__] = model
    return {}


def deleted() -> dict[int, Any]:
    return {204: {"description": "Deleted"}}


def body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """openapi_extra for a route whose JSON body is parsed by deps.json_body(model)."""
    _REQUEST_MODELS[model.__name__] = model
    return {"requestBody": {"required": required, **_json(_ref(model.__name__), "")}}


_WEBSOCKETS: dict[str, dict[str, Any]] = {}


def websocket(path: str, *, tag: str, summary: str, query: dict[str, str]) -> None:
    """Document a WebSocket route (FastAPI leaves them out): a GET answered with 101."""
    path_params = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    _WEBSOCKETS[path] = {
        "tags": [tag],
        "summary": summary,
        "operationId": summary.lower().replace(" ", "_"),
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in path_params
        ]
        + [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": text,
                "schema": {"type": "string"},
            }
            for name, text in query.items()
        ],
        "responses": {"101": {"description": "Switching Protocols (WebSocket)"}},
    }


def build_openapi(app: FastAPI, *, server_url: str = "/") -> dict[str, Any]:
    document = get_openapi(
        title="mbox API",
        version=API_VERSION,
        openapi_version="3.1.0",
        description="Programmable sandboxes: projects, templates, sandboxes and their audit trail.",
        routes=app.routes,
        servers=[{"url": server_url}],
        tags=[{"name": tag} for tag in TAGS],
    )
    for path, operation in _WEBSOCKETS.items():
        document["paths"].setdefault(path, {})["get"] = copy.deepcopy(operation)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            _finish_operation(operation, public=(method, path) in PUBLIC_OPERATIONS)
            if method == "post" and CREATE_PATHS.match(path):
                operation["parameters"].append(copy.deepcopy(IDEMPOTENCY_KEY_PARAMETER))
    document["components"] = {
        "schemas": _component_schemas(),
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
    }
    return document


IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "1..128 printable ASCII characters, per principal, kept 24 hours: a retry with the "
        "same key and request replays the first answer (with `Idempotent-Replayed: true`); "
        "409 while the first is still in progress, 422 for a different request"
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}


def _finish_operation(operation: dict[str, Any], *, public: bool) -> None:
    responses = operation["responses"]
    responses.pop("422", None)
    for status in [code for code in responses if code.startswith("2")]:
        content = responses[status].get("content", {})
        if not content.get("application/json", {}).get("schema"):
            content.pop("application/json", None)  # FastAPI's guess for a streamed body
        if not content:
            responses[status].pop("content", None)
    operation.setdefault("parameters", []).extend(
        {
            "name": name,
            "in": "header",
            "required": False,
            "schema": {"type": "string", "maxLength": 128},
        }
        for name in ATTRIBUTION_HEADERS
    )
    operation["security"] = [] if public else [{"bearerAuth": []}]
    if not public:
        responses["401"] = _json(_ref("Error"), "Missing or invalid bearer token")
    responses["default"] = _json(_ref("Error"), "Error")


def _component_schemas() -> dict[str, Any]:
    models = [(model, "serialization") for model in _RESPONSE_MODELS.values()]
    models += [(model, "validation") for model in _REQUEST_MODELS.values()]
    _, schemas = models_json_schema(
        models, by_alias=True, ref_template="#/components/schemas/{model}"
    )
    components = schemas.get("$defs", {})
    components["Error"] = components.pop("ErrorBody", ErrorBody.model_json_schema())
    return dict(sorted(components.items()))
