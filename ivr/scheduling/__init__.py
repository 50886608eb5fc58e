"""Scheduling: preset send times (``presets``, pure) and a thin adapter over APScheduler 3
with a persistent job store (``scheduler``)."""
