"""Helpers shared by the routers: JSON responses, GitHub's pagination, request body models."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100


class Body(BaseModel):
    """Request bodies: unknown fields are ignored, as GitHub ignores them."""

    model_config = ConfigDict(extra="ignore")


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def no_content() -> Response:
    return Response(status_code=204)


def _int_param(request: Request, name: str, default: int) -> int:
    try:
        return max(1, int(request.query_params.get(name, default)))
    except ValueError:
        return default


def paginate(request: Request, items: list[Any]) -> JSONResponse:
    """One page of `items`, with a Link header naming the next and last pages as GitHub does."""
    per_page = min(_int_param(request, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
    page = _int_param(request, "page", 1)
    last = max(1, -(-len(items) // per_page))
    response = ok(items[(page - 1) * per_page : page * per_page])
    links = []
    if page < last:
        links.append(f'<{request.url.include_query_params(page=page + 1)}>; rel="next"')
        links.append(f'<{request.url.include_query_params(page=last)}>; rel="last"')
    if page > 1:
        links.append(f'<{request.url.include_query_params(page=1)}>; rel="first"')
        links.append(f'<{request.url.include_query_params(page=page - 1)}>; rel="prev"')
    if links:
        response.headers["Link"] = ", ".join(links)
    return response
