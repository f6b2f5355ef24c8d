# helhed: the two commands are `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3.11
VENV := .venv
SUPERSET_VENV := .venv-superset
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: demo test lint stop bench deps clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml constraints/pipeline.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -c constraints/pipeline.txt -e '.[test,production]'
	touch $@

$(SUPERSET_VENV)/.installed: superset/constraints.txt
	test -x $(SUPERSET_VENV)/bin/python || $(PYTHON) -m venv $(SUPERSET_VENV)
	$(SUPERSET_VENV)/bin/pip install $(PIP_FLAGS) -c superset/constraints.txt apache-superset flask-caching psycopg2-binary cachetools rich  # cachetools, rich: imported by Superset 6.1 but not declared
	touch $@

# Debian's docker-compose validates docker-compose.yml in the tests without a Docker engine;
# Debian's chromium and chromium-driver take the dashboard screenshots (Selenium comes with Superset).
.tools-installed:
	command -v docker-compose >/dev/null || { apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; }
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; }
	touch $@

deps: $(VENV)/.installed $(SUPERSET_VENV)/.installed .tools-installed  ## install both environments and tools

demo: deps  ## generate a demo municipality, run the nightly DAG, serve Superset and Airflow
	$(VENV)/bin/helhed demo

lint: $(VENV)/.installed  ## ruff over src, tests and dags; mypy over src/helhed (pyproject.toml)
	$(VENV)/bin/ruff check src tests dags
	$(VENV)/bin/mypy

test: deps lint  ## lint, then run the whole test suite
	$(VENV)/bin/pytest -q

stop:  ## stop Superset, Airflow and the embedded PostgreSQL
	$(VENV)/bin/helhed stop

bench: deps  ## time the nightly's phases at 20k, 100k and 360k residents, one night through Airflow and Superset chart data at every size; writes docs/benchmarks.md
	$(VENV)/bin/python -m helhed.bench --airflow 20000,100000,360000 --superset 20000,100000,360000

clean: stop  ## remove the demo's state and data (keeps the environments)
	rm -rf .helhed data
