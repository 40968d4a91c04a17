# Two commands a newcomer needs: `make run` and `make test`. Both build the venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench bench-full demo clean browser faketime promtool services any-date

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/bookit run

demo: $(STAMP)
	$(BIN)/bookit --home $$(mktemp -d) demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

# The link pages are tested in a real headless browser: Debian's chromium (never a download).
browser:
	@test -x /usr/bin/chromium || (command -v apt-get >/dev/null && \
	  (apt-get install -y -q chromium fonts-dejavu-core >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q chromium fonts-dejavu-core >/dev/null))) || \
	  echo "warning: /usr/bin/chromium missing; the browser tests will fail" >&2

# The any-date run needs Debian's faketime (libfaketime), installed the same way.
faketime:
	@test -x /usr/bin/faketime || (command -v apt-get >/dev/null && \
	  (apt-get install -y -q faketime >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q faketime >/dev/null))) || \
	  echo "warning: /usr/bin/faketime missing; the any-date run will fail" >&2

# DESIGN rule 20, the suite passes on any date: the fast suites (unit, property, the CLI stories)
# again with the clock two minutes before the first Europe/London DST change a year or more from
# today (tests/any_date.py), in that zone, so the run is a year ahead and crosses the change.
ANY_DATE_TESTS := tests/unit tests/property tests/e2e/test_cli.py tests/e2e/test_waitlist_story.py \
	tests/e2e/test_rules_story.py
any-date: $(STAMP) faketime
	TZ=Europe/London faketime -f "$$($(BIN)/python tests/any_date.py)" \
	  $(BIN)/pytest $(ANY_DATE_TESTS) -n 2 -p no:cacheprovider

# The alert rules and the /metrics exposition are checked by promtool: Debian's prometheus.
promtool:
	@test -x /usr/bin/promtool || (command -v apt-get >/dev/null && \
	  (apt-get install -y -q prometheus >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q prometheus >/dev/null))) || \
	  echo "warning: /usr/bin/promtool missing; the promtool tests will fail" >&2

# The integration tests talk to real PostgreSQL, Redis and RabbitMQ: start any that is down.
services:
	@.ci/services

# The end-to-end tests (a `bookit` process per command, a browser) on two workers, a file to
# each; the rest, which share the servers (one of them stops RabbitMQ), in one process.
test: $(STAMP) lint typecheck browser promtool services
	$(BIN)/pytest tests/e2e -n 2 --dist loadfile
	$(BIN)/pytest --ignore=tests/e2e
	$(MAKE) any-date

bench: $(STAMP)
	$(BIN)/python bench/run.py

bench-full: $(STAMP)
	$(BIN)/python bench/run.py --full

clean:
	rm -rf $(VENV) .bookit .pytest_cache .mypy_cache .ruff_cache
