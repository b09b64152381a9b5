# Two entry points for people: `make run` and `make test`. Everything else is plumbing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint format bench demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The hub alone; the test tools come with the second stamp.
$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.runtime
	$(BIN)/gridcast run

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n 3 --dist worksteal  # 3 workers: many tests wait on subprocesses

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

format: $(VENV)/.dev
	$(BIN)/ruff format .

bench: $(VENV)/.dev
	@for b in qa_eval report_intake intake_cost audio_render fanout speaker_api speaker_urgent cap_ingest photo_decode campaign_year dashboard; do echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py || exit 1; done

demo: $(VENV)/.runtime
	$(BIN)/gridcast demo

clean:
	rm -rf $(VENV) build *.egg-info
