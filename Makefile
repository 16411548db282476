# Two commands: `make run` (the app, embedded mode) and `make test` (the whole suite).
# Both create .venv and install what they need on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint worker bench clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# `serve --bootstrap` is `manage.py bootstrap` then `manage.py serve`, in one process.
run: $(VENV)/.installed
	$(BIN)/python manage.py serve --bootstrap --host $(HOST) --port $(PORT)

# Browser tests drive Debian's chromium package; install it when it is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(VENV)/.installed-dev chromium
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

# Scale-out: a job worker as its own process (set REDIS_URL so it shares the queue).
worker: $(VENV)/.installed
	$(BIN)/python manage.py run_huey

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/loop_latency.py

clean:
	rm -rf $(VENV) var
