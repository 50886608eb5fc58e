"""Build the aiohttp application; routes live in small modules by domain."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import ValidationError

from ivr.errors import AuthError, ConflictError, InputError, NotFound
from ivr.web.auth import DATABASE, LIMITER, Handler, auth_middleware
from ivr.web.dashboard import add_dashboard
from ivr.web.keys import CONTROLLER

if TYPE_CHECKING:
    from ivr.app import Controller


async def health(request: web.Request) -> web.Response:
    """Liveness and the state of our links to Asterisk. No secrets, no auth needed."""
    controller = request.app[CONTROLLER]
    status = controller.health()
    code = 200 if status["ami"] and status["ari"] else 503
    return web.json_response(status, status=code)


def create_app(controller: Controller) -> web.Application:
    assert controller.db is not None
    app = web.Application(
        client_max_size=64 * 1024 * 1024, middlewares=[error_middleware, auth_middleware]
    )
    app[CONTROLLER] = controller
    app[DATABASE] = controller.db
    app[LIMITER] = controller.auth_limiter
    app.router.add_get("/api/health", health)
    add_dashboard(app)
    return app


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Our errors become JSON with a clear message and the right status; never a traceback."""
    try:
        return await handler(request)
    except NotFound as e:
        return web.json_response({"error": str(e)}, status=404)
    except (InputError, ValidationError) as e:
        return web.json_response({"error": str(e)}, status=400)
    except ConflictError as e:
        return web.json_response({"error": str(e)}, status=409)
    except AuthError as e:
        return web.json_response({"error": str(e)}, status=403)
