# The two commands: `make demo` and `make test`. Each installs what it needs first (idempotent).
# pipefail: a benchmark that fails must fail the target, even when piped into tail
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
.PHONY: install test demo lint typecheck bench bench-asr bench-broadcast bench-reports bench-fax

# pytest processes for `make test`. With 2 (the default), each process has its own Asterisk
# sandbox, rig phones and PostgreSQL cluster, and a test file stays in one process: about
# 16 minutes instead of 23 on 2 cores. TEST_WORKERS=0 runs everything in this one process.
TEST_WORKERS ?= 2
# Tests marked `solo` then run on their own, in a second pytest run. Each has a scripted
# caller whose words the test checks (the spoken report and its read-back reference; the
# demo, with a third Asterisk and controller). With both cores saturated by the other
# process, such a caller fell out of step with the prompts in 4 of 7 two-process runs: the
# spoken report twice before Asterisk's priority was raised, the demo twice (once after).
PYTEST_PROCESSES := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile -m "not solo")
PYTEST_SOLO := $(if $(filter 0,$(TEST_WORKERS)),,.venv/bin/python -m pytest -m solo -ra)

install:
	./scripts/install

lint: install
	.venv/bin/ruff check ivr sip_test_rig tests bench
	.venv/bin/ruff format --check ivr sip_test_rig tests bench

typecheck: install
	.venv/bin/mypy

test: install
	.venv/bin/ruff check ivr sip_test_rig tests bench
	.venv/bin/ruff format --check ivr sip_test_rig tests bench
	.venv/bin/mypy
	.venv/bin/python -m pytest $(PYTEST_PROCESSES) -ra --durations=20
	$(PYTEST_SOLO)

demo: install
	.venv/bin/ivr demo

# Every benchmark; each prints a table and, on its last line, one JSON object of figures.
# CI runs this after the tests (the fax bench with fewer faxes, to keep CI short).
bench: install
	mkdir -p bench/out
	.venv/bin/python bench/asr.py | tail -1 | tee bench/out/asr.json
	.venv/bin/python bench/broadcast.py | tail -1 | tee bench/out/broadcast.json
	.venv/bin/python bench/report_line.py | tail -1 | tee bench/out/report_line.json
	.venv/bin/python bench/fax.py --faxes 4 --pages 2 --renders 10 | tail -1 | tee bench/out/fax.json

bench-asr: install
	.venv/bin/python bench/asr.py

bench-broadcast: install
	.venv/bin/python bench/broadcast.py

bench-reports: install
	.venv/bin/python bench/report_line.py

bench-fax: install
	.venv/bin/python bench/fax.py
