# srcrel: `make demo` runs the main job end to end on the bundled example corpus;
# `make test` installs everything the tests need (the finetune extra too) and runs the whole suite.
PY ?= python3
VENV := .venv
STUDIO_VENV := .venv-studio
BIN := $(VENV)/bin
DEMO_DIR ?= demo-output

.PHONY: install finetune-install studio-install browser-install postgres-install demo test bench lint clean

install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# The fine-tuned classifier and `srcrel encoder`: torch pinned, first (on these machines the CPU
# wheel on disk; an unpinned torch pulls a multi-GB CUDA build), then the finetune extra.
finetune-install: $(VENV)/.finetune-installed
$(VENV)/.finetune-installed: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -q 'torch==2.13.0'
	$(BIN)/pip install -q -e '.[test,finetune]'
	touch $@

# Label Studio pins Django, pyarrow and pytz: it lives in its own virtual env.
studio-install: $(STUDIO_VENV)/.installed
$(STUDIO_VENV)/.installed:
	$(PY) -m venv $(STUDIO_VENV)
	$(STUDIO_VENV)/bin/pip install -q --upgrade pip
	$(STUDIO_VENV)/bin/pip install -q 'label-studio>=1.23.2,<1.24' 'gunicorn>=23'
	touch $@

# Debian's Chromium for the annotator's-path browser tests (never `playwright install`).
browser-install:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver; \
	  else echo "make: Chromium missing: run 'sudo apt-get install chromium chromium-driver'" >&2; exit 1; fi; }

# Debian's PostgreSQL server programs: `studio.database=postgresql` runs its own cluster with them
# (in studio.data_dir, on 127.0.0.1:studio.database_port) and the studio tests run on it too.
postgres-install:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; \
	  else echo "make: PostgreSQL missing: run 'sudo apt-get install postgresql' (studio.database=postgresql needs its server programs)" >&2; exit 1; fi; }

# `make demo DEMO_FINETUNE=1` adds the fine-tuned e5 baseline (installs the finetune extra first)
DEMO_FINETUNE ?=
demo: install studio-install $(if $(DEMO_FINETUNE),finetune-install)
	$(BIN)/python -m srcrel.demo output_dir=$(DEMO_DIR) $(if $(DEMO_FINETUNE),finetune=true)

# two workers (pytest-xdist; groups in tests/conftest.py): most tests wait on Label Studio, not the CPU
test: install finetune-install studio-install browser-install postgres-install
	$(BIN)/python -m pytest -n 2 --dist loadgroup --no-loadscope-reorder

bench: install finetune-install studio-install postgres-install
	$(BIN)/python benchmarks/ingest_benchmark.py
	$(BIN)/python benchmarks/push_benchmark.py
	$(BIN)/python benchmarks/annotator_load.py
	$(BIN)/python benchmarks/backend_predict.py
	$(BIN)/python benchmarks/active_learning.py
	$(BIN)/python benchmarks/gateway_abuse.py
	$(BIN)/python benchmarks/source_spans.py
	$(BIN)/python benchmarks/encoder_footprint.py

lint: install
	$(BIN)/python -m ruff check srcrel srcrel_core labeling training tests benchmarks
	$(BIN)/python -m mypy

clean:
	rm -rf $(VENV) $(STUDIO_VENV) .srcrel $(DEMO_DIR)
