# Two commands for a fresh machine (Python 3.11+, make, the package registries):
#   make run   — set up and run the embedded app on http://127.0.0.1:8000
#   make test  — set up and run the tests
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup setup-dev migrate lint format messages clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=24"
	$(PIP) install --quiet -c constraints.txt -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

# DEBUG is on here and only here (the settings default it off); DEMO_LEADS=n
# makes a smaller demo company on first start (default 3000 leads).
run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_data --if-empty $(if $(DEMO_LEADS),--leads $(DEMO_LEADS))
	@echo ""
	@echo "  revops is starting on http://$(HOST):$(PORT)/"
	@echo "  demo logins (password: demo): rep1 … rep5, sales_head, sales_head2, marketer, marketing_head, ceo, admin"
	@echo ""
	@# The worker (with the embedded beat) and the web server live and die together,
	@# once, on Ctrl-C, on SIGTERM (to make alone or its whole group) or when either exits.
	@# exec: no shell between make and the script, which dies of a TERM at once and
	@# leaves make to exit while the servers are still stopping.
	DEBUG=1 exec $(PY) scripts/run.py --host $(HOST) --port $(PORT)

# The suite runs on every core (pytest-xdist; each worker has its own test
# database): 15–19 minutes on two cores against 34 in one process, on PostgreSQL.
# TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto
test: setup
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

format: setup
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# Re-extract and compile translations (needs GNU gettext; the compiled .mo
# files are committed so setup never needs it).
messages: setup
	$(PY) manage.py makemessages -l ru -l en --add-location file --ignore=.venv --ignore=staticfiles --ignore=tests
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) var staticfiles
