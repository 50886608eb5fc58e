"""Build the aiohttp application; routes live in small modules by domain."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

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
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[CONTROLLER] = controller
    app.router.add_get("/api/health", health)
    return app
