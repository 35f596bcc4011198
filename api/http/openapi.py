"""The OpenAPI document says what the server accepts, so that a client generated from it
builds only requests Parley takes (and a fuzzer's valid data is valid).

FastAPI describes the parameters and the bodies it parses itself. Bodies parsed from
their bytes (an append, the EventSourcingDB requests) declare their type with
``json_body``; their schemas are hoisted into ``components/schemas`` here. Every
operation documents its client errors (``4XX``, problem+json, or text under /api/v1),
and reads show that a token is optional unless PARLEY_READ_TOKEN is set.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from api.http.deps import READ_SCHEME
from api.http.errors import PROBLEM

BEARER = "HTTPBearer"
_DEFS, _COMPONENTS = "#/$defs/", "#/components/schemas/"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details; `errors` names each field at fault",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "value": {},
                },
                "required": ["field", "message"],
            },
        },
    },
    "required": ["type", "title", "status", "detail"],
}

PROBLEMS: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "description": "a problem: the request is malformed (400), unauthorised (401, 403), "
        "names nothing (404), conflicts (409), is too large (413) or invalid (422)",
        "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}},
    }
}
"""Every operation's client errors (``FastAPI(responses=...)``)."""

TEXT_PROBLEMS: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "description": "an error as EventSourcingDB writes it: a line of text (a body over "
        "the limit is a 413 problem+json)",
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            PROBLEM: {"schema": PROBLEM_SCHEMA},
        },
    }
}
"""The client errors of the EventSourcingDB API (api/esdb/routes.py)."""


_BODIES: list[tuple[dict[str, Any], Any]] = []
"""Each ``json_body``'s media object, and the type whose schema goes in it."""


def json_body(annotation: Any, description: str, example: Any = None) -> dict[str, Any]:
    """``openapi_extra`` for a route that parses its JSON body itself: the body's schema
    from its type, the same type its parser validates with. The schema is made with the
    document (``install``), not at import, where it was a quarter of the app's import
    time; its definitions ride along under ``$defs`` until they move to the components."""
    media: dict[str, Any] = {}
    _BODIES.append((media, annotation))
    if example is not None:
        media["example"] = example
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": media},
        }
    }


def _name(name: str) -> str:
    """A component's name: pydantic names an event's nested ``Data`` model by its module
    and qualified name (``domain__events__RoundHeld__Data``); here ``RoundHeldData``."""
    return "".join(name.split("__")[-2:])


def _components(schema: Any) -> Any:
    """A JSON schema with its definitions named by ``_name`` and its ``$ref``s pointed at
    the document's components."""
    if isinstance(schema, dict):
        return {
            key: _COMPONENTS + _name(value.removeprefix(_DEFS))
            if key == "$ref" and isinstance(value, str)
            else {_name(name): _components(item) for name, item in value.items()}
            if key == "$defs"
            else _components(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_components(item) for item in schema]
    return schema


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` build the document described above (once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _body_schemas()
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _hoist_body_definitions(document)
            _parameters_absent_not_null(document)
            _read_security(document, optional=not app.state.settings.read_token)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _body_schemas() -> None:
    """Each ``json_body``'s schema, made once, in the media object its route holds."""
    for media, annotation in _BODIES:
        if "schema" not in media:
            rest = dict(media)  # the schema first, as the document always had it
            media.clear()
            media["schema"] = _components(TypeAdapter(annotation).json_schema())
            media.update(rest)


def _hoist_body_definitions(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for path in document["paths"].values():
        for operation in path.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                for name, schema in media.get("schema", {}).pop("$defs", {}).items():
                    if components.setdefault(name, schema) != schema:
                        raise RuntimeError(f"two different schemas are named {name}")


def _parameters_absent_not_null(document: dict[str, Any]) -> None:
    """An optional parameter is left out, never null: HTTP has no null, and a client
    that sent ``as_of=null`` would be refused. FastAPI writes ``T | None`` as
    ``anyOf: [T, null]``; here it is ``T``."""
    for path in document["paths"].values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                branches = schema.get("anyOf", [])
                kept = [branch for branch in branches if branch != {"type": "null"}]
                if len(kept) == 1 and len(branches) == 2:
                    del schema["anyOf"]
                    parameter["schema"] = {**kept[0], **schema}


def _read_security(document: dict[str, Any], optional: bool) -> None:
    """Reads name the bearer scheme under ``READ_SCHEME`` (api/http/deps.py); here it becomes
    the one bearer scheme, optional when reads are open."""
    schemes = document.get("components", {}).get("securitySchemes", {})
    schemes.pop(READ_SCHEME, None)
    for path in document["paths"].values():
        for operation in path.values():
            security = operation.get("security", [])
            if any(READ_SCHEME in requirement for requirement in security):
                operation["security"] = [{BEARER: []}, {}] if optional else [{BEARER: []}]
