"""The parts of the controller that each product area adds: one line each in FACTORIES.

A component may serve dialogues (Stasis applications by name), add web routes, and run
background work for as long as the controller runs. The controller owns every run() task.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from ivr.telephony.dispatcher import Dialogue

if TYPE_CHECKING:
    from ivr.app import Controller


class Component(Protocol):
    name: str

    def dialogues(self) -> Mapping[str, Dialogue]: ...

    def routes(self, app: web.Application) -> None: ...

    async def run(self) -> None:
        """Background work until cancelled (return at once if there is none)."""
        ...


ComponentFactory = Callable[["Controller"], Component]


def factories() -> list[ComponentFactory]:
    """Imported lazily so that each area's dependencies load only with the controller."""
    from ivr.campaigns.component import CampaignsComponent

    found: list[ComponentFactory] = [CampaignsComponent]
    for module, name in (
        ("ivr.reports.component", "ReportsComponent"),
        ("ivr.bulletin_line.component", "BulletinLineComponent"),
    ):
        try:
            found.append(getattr(__import__(module, fromlist=[name]), name))
        except ModuleNotFoundError as e:
            # only "this area is not built yet"; a missing dependency inside it must surface
            if not e.name or not module.startswith(e.name):
                raise
    return found
