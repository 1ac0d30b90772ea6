# Hamsu: `make run` serves the product, `make test` runs the suite. Every target is idempotent.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DATA ?= ../shared/data
STAMP := $(VENV)/.installed

.PHONY: install run test train eval bench lint clean

install: $(STAMP)

# torch first and pinned: this takes the CPU build from local disk instead of GBs of CUDA wheels
$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	# Resemblyzer pulls webrtcvad 2.0.10, whose module needs the removed pkg_resources; the wheels
	# fork installs the same module without it
	$(BIN)/pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
		webrtcvad-wheels==2.0.14.post1
	touch $(STAMP)

run: install
	$(BIN)/hamsu serve

# the whole suite on the embedded default (SQLite), then everything that touches the database
# again on PostgreSQL (a fresh database per test on the server at HAMSU_TEST_POSTGRES, default the
# local one; the scaled topology's tests need it and Redis)
DB_TESTS := tests/api tests/routing tests/pipeline tests/ui tests/test_migrations.py
test: install
	$(BIN)/python -m pytest
	HAMSU_TEST_DATABASE=postgresql $(BIN)/python -m pytest $(DB_TESTS)

train: install
	$(BIN)/python -m training.train --data $(DATA) --layers 0 --epochs 10 --out nlp/weights/heads_frozen.pt --no-card
	$(BIN)/python -m training.train --data $(DATA) --companion heads_frozen.pt
	$(BIN)/python -m training.agent_voice
	$(BIN)/python -m training.decision

eval: install
	$(BIN)/python -m training.evaluate --data $(DATA)

bench: install
	$(BIN)/python bench/speed.py $(DATA)
	$(BIN)/python bench/classify.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var
