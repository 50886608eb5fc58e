"""The non-emergency report line's backend: report records, reference numbers, urgency,
the outbox to an external reporting backend, retention, and the controller component.

Pure parts (``reference``, ``urgency``, ``categories``, ``states``, ``signing``,
``outbox_policy``, ``payload``) have no I/O; ``intake``, ``delivery``, ``retention`` and
``component`` are the thin shell around them. See ``ivr/reports/README.md``.
"""
