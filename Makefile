# seriesguard — `make run` starts the all-in-one server, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck bench clean promtool

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/seriesguard serve --host $(HOST) --port $(PORT)

test: $(STAMP) promtool
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

# tests/deploy runs promtool on the alert rules. One on PATH is used as is; otherwise only the
# binary is unpacked from Debian's prometheus package into the venv (nothing installed, no
# daemon started). `apt-get download` needs package lists: refreshed once if root may.
promtool: $(STAMP)
	@command -v promtool >/dev/null || test -x $(BIN)/promtool || { \
	  tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cd "$$tmp" && \
	  { apt-get download -qq prometheus 2>/dev/null || \
	    { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get download -qq prometheus; }; } && \
	  dpkg-deb -x prometheus_*.deb root && \
	  install -m 0755 root/usr/bin/promtool "$(abspath $(BIN))/promtool"; \
	} || { echo "promtool: not on PATH, and Debian's prometheus package could not be fetched" >&2; \
	  exit 1; }

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

# Every benchmark writes its figures into benchmarks/results.json; report.py renders them
# into docs/performance.md. The fleet (285k production models) is built once in
# benchmarks/.fleet and reused by the serving benchmark.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_fleet.py --fresh
	$(BIN)/python benchmarks/bench_serving.py --home benchmarks/.fleet
	$(BIN)/python benchmarks/bench_predict.py
	$(BIN)/python benchmarks/bench_batch.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_registration.py
	$(BIN)/python benchmarks/bench_topology.py
	$(BIN)/python benchmarks/bench_security.py
	$(BIN)/python benchmarks/bench_monitoring.py
	$(BIN)/python benchmarks/report.py

clean:
	rm -rf $(VENV) .seriesguard .mypy_cache .ruff_cache
