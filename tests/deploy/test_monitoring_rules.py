"""deploy/monitoring: alert rules and their promtool unit tests, the example Prometheus config
and the Grafana dashboards are valid for promtool and written against metric names we export."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "deploy" / "monitoring"
PROMETHEUS = MONITORING / "prometheus"
RULES = PROMETHEUS / "rules" / "seriesguard.rules.yml"
RULE_TESTS = PROMETHEUS / "tests" / "seriesguard.rules.test.yml"
CONFIG = PROMETHEUS / "prometheus.yml"
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))

# Names scraped from others (cAdvisor, kube-state-metrics, Prometheus itself) that the
# dashboards and rules may read. Everything else must be one of ours.
EXTERNAL_METRICS = frozenset(
    {
        "up",
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "container_spec_memory_limit_bytes",
        "kube_deployment_status_replicas",
        "kube_deployment_spec_replicas",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas",
    }
)

ALERTS = frozenset(
    {
        "HighErrorRate",
        "HighLatency",
        "LowCacheHitRate",
        "TrainingQueueBacklog",
        "ModelDriftDetected",
        "ModelRolledBack",
        "PredictorFallbackHigh",
        "SeriesStatsFlushFailing",
        "TrainingJobsFailing",
        "SchedulerNoLeader",
        "PredictorDown",
    }
)

# --- A small PromQL identifier extractor ---------------------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_OFFSETS = re.compile(r"\boffset\s+-?\w+")
_AT_MODIFIERS = re.compile(r"@\s*(?:start\s*\(\s*\)|end\s*\(\s*\)|[\d.]+)")
_NUMBERS = re.compile(r"(?<![\w:.])(?:0x[0-9a-f]+|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)", re.I)
_IDENTIFIERS = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = frozenset(
    [
        "and",
        "or",
        "unless",
        "bool",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "inf",
        "nan",
        "atan2",
    ]
)
# Grafana's variables, replaced by what Prometheus would receive.
_GRAFANA_DURATIONS = re.compile(r"\$(?:__rate_interval|__interval|__range)\b")
_GRAFANA_VARIABLES = re.compile(r"\$\{?\w+(?::\w+)?\}?")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<selector>.+),\s*)?\w+\s*\)\s*$")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers left once strings, label
    matchers, ranges, label lists, modifiers and numbers are gone, except function calls and
    keywords."""
    text = _STRINGS.sub(" ", expr)
    for pattern in (_MATCHERS, _RANGES, _LABEL_LISTS, _OFFSETS, _AT_MODIFIERS, _NUMBERS):
        text = pattern.sub(" ", text)
    names = set()
    for match in _IDENTIFIERS.finditer(text):
        called = text[match.end() :].lstrip().startswith("(")
        if not called and match.group().lower() not in _KEYWORDS:
            names.add(match.group())
    return names


def without_grafana_variables(expr: str) -> str:
    return _GRAFANA_VARIABLES.sub(".*", _GRAFANA_DURATIONS.sub("5m", expr))


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('sum(rate(http_requests_total{status=~"5.."}[5m])) by (le)', {"http_requests_total"}),
        (
            'histogram_quantile(0.99, sum by (le) (rate(a_bucket{r="/x/{id}(y)"}[5m:1m])))',
            {"a_bucket"},
        ),
        ("a / on (pod) group_left (version) b offset 1h30m > bool 1e3", {"a", "b"}),
        ("x / ignoring (t) group_left sum(y) unless z @ start()", {"x", "y", "z"}),
        ("max(x) < 1 or absent(y) and Inf > NaN", {"x", "y"}),
        ('label_replace(up, "dst", "$1", "src", "(.*)")', {"up"}),
        ('job:http_requests:rate5m{job="a"} * 0x10 + .5', {"job:http_requests:rate5m"}),
        ('count_values("version", build2_info)', {"build2_info"}),
    ],
)
def test_metric_names_extracts_only_metric_names(expr: str, expected: set[str]) -> None:
    assert metric_names(expr) == expected


# --- Sources ------------------------------------------------------------------------------


def _load_yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def _rules() -> list[dict[str, Any]]:
    return [rule for group in _load_yaml(RULES)["groups"] for rule in group["rules"]]


def _alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in _rules() if "alert" in rule}


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _dashboard_exprs() -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every dashboard target and template-variable query."""
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in _panels(dashboard):
            for target in panel.get("targets", []):
                yield f"{path.name}: {panel['title']}", without_grafana_variables(target["expr"])
        for variable in dashboard["templating"]["list"]:
            if variable["type"] != "query":
                continue
            label_values = _LABEL_VALUES.match(variable["query"]["query"])
            assert label_values, f"{path.name}: unexpected variable query {variable['query']}"
            if label_values["selector"]:
                where = f"{path.name}: variable {variable['name']}"
                yield where, without_grafana_variables(label_values["selector"])


def _rule_exprs() -> Iterator[tuple[str, str]]:
    for rule in _rules():
        yield f"rule {rule.get('alert') or rule['record']}", rule["expr"]


# --- promtool -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def promtool() -> str:
    local = REPO / ".venv" / "bin" / "promtool"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(
            "promtool is neither in .venv/bin nor on PATH: `make test` installs it "
            "(Makefile target `promtool`)",
            pytrace=False,
        )
    return found


def _run(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_rules_pass_promtool_check(promtool: str) -> None:
    result = _run(promtool, "check", "rules", str(RULES), cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout


def test_rule_unit_tests_pass(promtool: str) -> None:
    result = _run(promtool, "test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_dashboard_queries_parse(promtool: str, tmp_path: Path) -> None:
    # promtool has no "check expression": the queries are checked as recording rules.
    rules = [
        {"record": f"dashboard:query_{i}:check", "expr": expr}
        for i, (_, expr) in enumerate(_dashboard_exprs())
    ]
    checked = tmp_path / "dashboards.rules.yml"
    checked.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = _run(promtool, "check", "rules", str(checked), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def _only_kubernetes_sd_unknown(output: str) -> bool:
    unknown = set(re.findall(r"field (\w+) not found", output))
    return unknown == {"kubernetes_sd_configs"}


def _check_config_with_file_sd(promtool: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    config = _load_yaml(CONFIG)
    targets = workdir / "targets.json"
    targets.write_text("[]")
    for job in config["scrape_configs"]:
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["file_sd_configs"] = [{"files": [str(targets)]}]
    shutil.copytree(RULES.parent, workdir / RULES.parent.name)
    (workdir / CONFIG.name).write_text(yaml.safe_dump(config))
    return _run(promtool, "check", "config", CONFIG.name, cwd=workdir)


def test_example_config_passes_promtool_check_config(promtool: str, tmp_path: Path) -> None:
    result = _run(promtool, "check", "config", CONFIG.name, cwd=PROMETHEUS)
    if result.returncode != 0 and _only_kubernetes_sd_unknown(result.stdout + result.stderr):
        # Debian builds Prometheus without Kubernetes discovery: check all the rest with
        # file discovery in its place.
        result = _check_config_with_file_sd(promtool, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_example_config_labels_targets_with_their_service() -> None:
    config = _load_yaml(CONFIG)
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "seriesguard")
    relabels = {
        (tuple(r.get("source_labels", [])), r.get("target_label")) for r in job["relabel_configs"]
    }
    assert (("__meta_kubernetes_service_name",), "service") in relabels
    assert (("__meta_kubernetes_pod_name",), "pod") in relabels
    assert str(RULES.relative_to(PROMETHEUS)) in config["rule_files"]


# --- Rules ----------------------------------------------------------------------------------


def test_alert_group_holds_every_alert_evaluated_every_30s() -> None:
    group = next(g for g in _load_yaml(RULES)["groups"] if g["name"] == "anomaly_detector_alerts")
    assert group["interval"] == "30s"
    assert {rule["alert"] for rule in group["rules"]} == ALERTS


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    for name, rule in _alerts().items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], name
        assert re.fullmatch(r"docs/operations\.md#[a-z0-9-]+", annotations["runbook"]), name


def test_every_alert_has_a_unit_test_that_fires_it_and_one_that_does_not() -> None:
    cases = [
        case for test in _load_yaml(RULE_TESTS)["tests"] for case in test.get("alert_rule_test", [])
    ]
    fired = {case["alertname"] for case in cases if case.get("exp_alerts")}
    silent = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert fired == ALERTS
    assert silent == ALERTS


def test_no_expression_uses_a_series_id_label() -> None:
    # 285,000 series: no per-series label anywhere (DESIGN.md §2). Route templates such as
    # "/api/v1/predict/{series_id}" are label values, inside strings.
    for where, expr in [*_rule_exprs(), *_dashboard_exprs()]:
        assert not re.search(r"\bseries_id\b", _STRINGS.sub(" ", expr)), where


def test_every_metric_read_is_exported_or_external() -> None:
    from seriesguard.observability.metrics import exported_metric_names

    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    known = exported_metric_names() | EXTERNAL_METRICS | recorded
    unknown = [
        (where, name)
        for where, expr in [*_rule_exprs(), *_dashboard_exprs()]
        for name in sorted(metric_names(expr) - known)
    ]
    assert not unknown


# --- Dashboards -----------------------------------------------------------------------------


def test_three_dashboards_with_unique_uids_and_titles() -> None:
    dashboards = [json.loads(path.read_text()) for path in DASHBOARDS]
    assert [p.name for p in DASHBOARDS] == [
        "ml-metrics.json",
        "model-performance.json",
        "system-overview.json",
    ]
    assert len({d["uid"] for d in dashboards}) == len({d["title"] for d in dashboards}) == 3
    assert all(d["schemaVersion"] == 39 for d in dashboards)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_picks_prometheus_through_the_datasource_variable(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["service"]["datasource"]["uid"] == "${datasource}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_query_panel_has_the_datasource_and_targets(path: Path) -> None:
    panels = list(_panels(json.loads(path.read_text())))
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        if panel["type"] in {"text", "row"}:
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip() and target["refId"], panel["title"]
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
