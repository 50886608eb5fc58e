"""Members: field values and parsers (``fields``), the CSV format (``csv_format``, pure), and
``importer.import_members`` / ``exporter.export_members`` around the store.

This package's ``__init__`` imports nothing from ``ivr.store``: the store's models import
``ivr.members.fields``, and an eager import here would make that a cycle. Import the
functions from their modules.
"""
