"""Typed ``web.AppKey`` s through which handlers reach the controller's parts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from ivr.app import Controller

CONTROLLER: web.AppKey[Controller] = web.AppKey("controller")
