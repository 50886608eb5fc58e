"""``python -m ivr.store.migrations revision "message"``: autogenerate the next migration."""

from ivr.store.migrate import main

raise SystemExit(main())
