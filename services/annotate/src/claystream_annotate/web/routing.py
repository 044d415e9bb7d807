"""A route class for HTML endpoints: use-case errors become pages (or toasts for htmx)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute

from claystream_annotate.services.errors import (
    AnnotateError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from claystream_annotate.web.rendering import is_htmx, render
from claystream_annotate.web.session import LoginRequired

STATUS_FOR: list[tuple[type[AnnotateError], int, str]] = [
    (NotFound, 404, "Not found"),
    (Forbidden, 403, "Not allowed"),
    (Invalid, 422, "Invalid input"),
    (Conflict, 409, "Conflict"),
    (RateLimited, 429, "Too many requests"),
    (Unauthenticated, 401, "Sign in required"),
    (Unavailable, 503, "Try again later"),
]


def return_path(request: Request) -> str:
    """Where to come back after signing in: the page itself for a plain GET; for an htmx fragment or a form POST the
    page the user was on (``HX-Current-URL``, else the same-origin ``Referer``), never the fragment or POST route
    (signing in then landed on a bare fragment or on a 405)."""
    if request.method == "GET" and request.headers.get("HX-Request") != "true":
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    page = urlsplit(request.headers.get("HX-Current-URL") or request.headers.get("referer") or "")
    if page.netloc and page.netloc != request.url.netloc:
        return "/"
    return (page.path or "/") + (f"?{page.query}" if page.query else "")


def login_redirect(request: Request) -> Response:
    location = f"/login?next={quote(return_path(request), safe='')}"
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def error_response(request: Request, error: AnnotateError) -> Response:
    status, title = next(((code, text) for kind, code, text in STATUS_FOR if isinstance(error, kind)), (400, "Bad request"))
    message = str(error)
    headers = {"Retry-After": str(error.retry_after_s)} if isinstance(error, RateLimited) else {}
    if request.headers.get("HX-Request") == "true":
        headers |= {"HX-Reswap": "none", "HX-Trigger": json.dumps({"toast": {"text": message, "kind": "error"}})}
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    principal = getattr(request.state, "principal", None)
    return render(request, "annotate/error.html", principal, status_code=status, headers=headers, title=title, message=message)


class WebRoute(APIRoute):
    """Catches :class:`AnnotateError`, :class:`LoginRequired` and FastAPI's own refusals of form and query fields
    from the handler and its dependencies."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return login_redirect(request)
            except AnnotateError as error:
                return error_response(request, error)
            except RequestValidationError as error:  # a form or query field FastAPI refused: the page, not its JSON
                problem = error.errors()[0] if error.errors() else {}
                field = ".".join(str(part) for part in problem.get("loc", ())[1:]) or "request"
                return error_response(request, Invalid(field, str(problem.get("msg", "invalid"))))

        return handle


__all__ = ["HTMLResponse", "WebRoute", "error_response", "is_htmx", "login_redirect"]
