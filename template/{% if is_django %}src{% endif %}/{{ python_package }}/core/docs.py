"""Swagger UI's files for /docs, served from the installed django-ninja: no CDN, works offline.

Uvicorn serves the service with no web server in front and no collectstatic step, so the few
files the page needs are read once at start-up (about 1.7 MB) and answered from memory.
"""

import mimetypes
from pathlib import Path

import ninja
from django.http import HttpRequest, HttpResponse

from .problems import not_found

_FOLDER = Path(ninja.__file__).parent / "static" / "ninja"
_ASSETS = {
    path.name: (path.read_bytes(), mimetypes.guess_type(path.name)[0] or "text/plain")
    for path in _FOLDER.iterdir()
    if path.name.startswith(("swagger-ui", "favicon")) and path.suffix != ".map"
}


async def docs_asset(request: HttpRequest, name: str) -> HttpResponse:
    """Only the listed files: a name is a dictionary key here, never a path on disk."""
    if name not in _ASSETS:
        return not_found(request)
    content, content_type = _ASSETS[name]
    response = HttpResponse(content, content_type=content_type)
    response["Cache-Control"] = "public, max-age=3600"
    return response
