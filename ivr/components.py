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


_AREAS = {
    "campaigns": ("ivr.campaigns.component", "CampaignsComponent"),
    "reports": ("ivr.reports.component", "ReportsComponent"),
    "bulletin_line": ("ivr.bulletin_line.component", "BulletinLineComponent"),
}


def factories(names: tuple[str, ...] | None = None) -> list[ComponentFactory]:
    """The components to run (all built ones by default), imported lazily so each area's
    dependencies load only when it runs."""
    unknown = set(names or ()) - set(_AREAS)
    if unknown:
        from ivr.errors import ConfigError

        raise ConfigError(f"unknown components {sorted(unknown)}; known: {sorted(_AREAS)}")
    found: list[ComponentFactory] = []
    for area, (module, name) in _AREAS.items():
        if names is not None and area not in names:
            continue
        try:
            found.append(getattr(__import__(module, fromlist=[name]), name))
        except ModuleNotFoundError as e:
            # only "this area is not built yet"; a missing dependency inside it must surface
            if not e.name or not module.startswith(e.name):
                raise
    return found
