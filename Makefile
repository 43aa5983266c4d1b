# seriesguard — `make run` starts the all-in-one server, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-browser test-dags test-k8s airflow-constraints lint typecheck bench clean \
  promtool chromium

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/seriesguard serve --host $(HOST) --port $(PORT)

# The DAG tests, then the offline Kubernetes checks, run after the main suite (a failure
# there stops make with its exit code). The browser tests (tests/browser) run inside the main
# suite and fail, not skip, when Chromium is missing; their screenshots go to test-artifacts/.
test: $(STAMP) promtool chromium
	SERIESGUARD_BROWSER=required $(BIN)/python -m pytest -q -p no:cacheprovider tests \
	  --ignore=tests/deploy/test_k8s_render.py --ignore=tests/deploy/test_k8s_consistency.py
	$(MAKE) test-dags
	$(MAKE) test-k8s

# The dashboard's browser tests alone (headless Chromium through Playwright).
test-browser: $(STAMP) chromium
	SERIESGUARD_BROWSER=required $(BIN)/python -m pytest -q -p no:cacheprovider tests/browser

# Airflow 3.3.2 pins fastapi<0.137, so the DAGs live in their own venv: Airflow, the
# client's dependencies, and seriesguard with --no-deps (the DAGs use only its client).
# The tests start `seriesguard serve` from the main venv, so both are needed.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
AIRFLOW_PIP := $(AIRFLOW_VENV)/bin/pip --disable-pip-version-check

$(AIRFLOW_STAMP): deploy/airflow/requirements.txt deploy/airflow/constraints.txt pyproject.toml
	test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_PIP) install --quiet -c deploy/airflow/constraints.txt -r deploy/airflow/requirements.txt
	$(AIRFLOW_PIP) install --quiet --no-deps -e .
	touch $(AIRFLOW_STAMP)

# pytest exits 5 when it collects nothing: make fails on it like on any other non-zero.
test-dags: $(STAMP) $(AIRFLOW_STAMP)
	$(AIRFLOW_VENV)/bin/python -m pytest -q -p no:cacheprovider tests_dags

# deploy/k8s validated offline: kubectl kustomize, kubernetes-validate --strict (core kinds),
# the Istio/Argo CD models made strict (Node, deploy/k8s/validate), the kserve SDK's models
# (own venv: kserve and Airflow cannot share one), check-jsonschema on the CI workflow, and the
# manifests against the code. Here the tests fail, not skip, when the tooling is missing.
K8S_VALIDATE := deploy/k8s/validate
NODE_STAMP := $(K8S_VALIDATE)/node_modules/.installed
KSERVE_VENV := .venv-kserve
KSERVE_STAMP := $(KSERVE_VENV)/.installed

$(NODE_STAMP): $(K8S_VALIDATE)/package.json $(K8S_VALIDATE)/package-lock.json
	cd $(K8S_VALIDATE) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

$(KSERVE_STAMP): $(K8S_VALIDATE)/kserve-requirements.txt
	test -x $(KSERVE_VENV)/bin/python || $(PYTHON) -m venv $(KSERVE_VENV)
	$(KSERVE_VENV)/bin/pip install --quiet --disable-pip-version-check \
	  -r $(K8S_VALIDATE)/kserve-requirements.txt
	touch $(KSERVE_STAMP)

test-k8s: $(STAMP) $(NODE_STAMP) $(KSERVE_STAMP)
	SERIESGUARD_K8S_TOOLING=required $(BIN)/python -m pytest -q -p no:cacheprovider \
	  tests/deploy/test_k8s_render.py tests/deploy/test_k8s_consistency.py

# Re-pin the Airflow venv after changing deploy/airflow/requirements.txt.
airflow-constraints:
	rm -rf $(AIRFLOW_VENV)
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_PIP) install --quiet -r deploy/airflow/requirements.txt
	{ sed -n '1,3p' deploy/airflow/constraints.txt; \
	  $(AIRFLOW_PIP) freeze --exclude-editable; } > deploy/airflow/constraints.txt.new
	mv deploy/airflow/constraints.txt.new deploy/airflow/constraints.txt

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

# The browser tests drive Debian's chromium (Playwright's own download, `playwright install`,
# is never used). One on PATH, or named by SERIESGUARD_CHROMIUM, is used as is; otherwise root
# installs the package, refreshing the package lists (once) only if that first install fails.
chromium:
	@command -v chromium >/dev/null || test -x "$${SERIESGUARD_CHROMIUM:-/nonexistent}" || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends chromium; }; }; \
	} || { echo "chromium: not on PATH and not installable here (not root, or no apt-get);" \
	  "install Debian's chromium package or set SERIESGUARD_CHROMIUM to a Chromium binary" >&2; \
	  exit 1; }

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks deploy/airflow/dags deploy/k8s/tools tests_dags
	$(BIN)/ruff format --check src tests benchmarks deploy/airflow/dags deploy/k8s/tools tests_dags
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
	$(BIN)/python benchmarks/bench_history.py
	$(BIN)/python benchmarks/bench_detectors.py
	$(BIN)/python benchmarks/bench_evaluate.py
	$(BIN)/python benchmarks/bench_dashboard.py
	$(BIN)/python benchmarks/report.py

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) $(KSERVE_VENV) $(K8S_VALIDATE)/node_modules .seriesguard .mypy_cache .ruff_cache
