# The two commands: `make demo` and `make test`. Each installs what it needs first (idempotent).
.PHONY: install test demo lint typecheck bench bench-asr bench-broadcast bench-reports bench-fax serve

install:
	./scripts/install

lint: install
	.venv/bin/ruff check ivr sip_test_rig tests bench
	.venv/bin/ruff format --check ivr sip_test_rig tests bench

typecheck: install
	.venv/bin/mypy

test: install
	.venv/bin/ruff check ivr sip_test_rig tests bench
	.venv/bin/mypy
	.venv/bin/python -m pytest -ra

demo: install
	.venv/bin/ivr demo

bench-asr: install
	.venv/bin/python bench/asr.py

bench-broadcast: install
	.venv/bin/python bench/broadcast.py

bench-reports: install
	.venv/bin/python bench/report_line.py

bench-fax: install
	.venv/bin/python bench/fax.py
