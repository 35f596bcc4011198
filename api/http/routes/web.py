"""The web page at ``/``: one HTML file, one script and one stylesheet from ``api/http/static``.

No build step and nothing from a CDN. The files are read through ``importlib.resources``,
so an installed package serves them too (``[tool.setuptools.package-data]``). Neither
route is part of the API, so neither appears in the OpenAPI schema.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files

from fastapi import APIRouter, HTTPException, Request, Response

router = APIRouter(include_in_schema=False)

STATIC = files("api.http") / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# The page loads only its own files and talks only to this server.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _serve(name: str, request: Request) -> Response:
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or "\\" in name or suffix not in MEDIA_TYPES or not (STATIC / name).is_file():
        raise HTTPException(404, f"no file {name!r} in the page's static files")
    body = (STATIC / name).read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
    headers = {**SECURITY_HEADERS, "ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA_TYPES[suffix], headers=headers)


@router.api_route("/", methods=["GET", "HEAD"])
def index(request: Request) -> Response:
    """The page: pick a negotiation, a valid time and a recorded time; see the state."""
    return _serve("index.html", request)


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
def static(name: str, request: Request) -> Response:
    """The page's script and stylesheet (revalidated by ETag, so an upgrade shows at once)."""
    return _serve(name, request)
