"""Campaigns: the outcome vocabulary (``outcomes``), pure policy (``policy``), and the engine.

Keep this ``__init__`` free of imports: ``ivr.store`` imports ``outcomes`` and ``policy``,
and an engine imported here would import the store back (a cycle).
"""
