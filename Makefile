# Two commands for a new user: `make run` and `make test`. Everything else is set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-fast lint fuzz soak bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Parley needs Python 3.11 or later" or 0)'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/parley serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# Tests run on WORKERS processes (pytest-xdist). The suite is CPU-bound (its own
# processes, its servers', PostgreSQL's): one worker more than two cores keeps both busy
# while a test sleeps or waits for a server, and each further worker only adds its own
# start-up (~5 s of CPU to collect) and database. Each worker has a PostgreSQL database
# of its own (tests/conftest.py); --dist loadgroup keeps a module's shared server (and
# the browser) on one worker per backend. The long runs are make fuzz and make soak.
WORKERS ?= 3
PYTEST  := $(BIN)/pytest -n $(WORKERS) --dist loadgroup --durations=15

test: lint  # everything, as CI runs it: lint first (ruff + mypy), then the whole suite
	$(PYTEST)

# The inner loop: unit and SQLite tests, no server, no browser, no PostgreSQL (1,636 of
# the 2,304 tests): 1m35s on 2 idle cores (2m58s of CPU), against about 6m40s for the
# whole suite on the same machine.
test-fast: install
	$(PYTEST) -m "not slow and not postgres"

fuzz: install  # the long schemathesis run (make test runs a short one); FUZZ="-k sqlite"
	PARLEY_FUZZ=long $(BIN)/pytest tests/e2e/test_fuzz.py -v $(FUZZ)

# The long crash runs (make test kills four times each): ten kills of a real server while
# four clients append, ten of a projection runner process while a writer appends.
soak: install
	PARLEY_SOAK=1 $(BIN)/pytest -v -n 2 tests/e2e/test_crash.py \
		"tests/integration/test_projections.py::test_a_runner_process_killed_at_random_moments_resumes_without_loss_or_double"

bench: install  # make bench BENCH="--quick" (flags: python -m bench.report --help)
	$(BIN)/python -m bench.report $(BENCH)

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
