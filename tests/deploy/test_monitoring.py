"""The monitoring assets match what zoomhooks exposes: deploy/prometheus and deploy/grafana.

Every metric an alert or a dashboard panel names must be one zoomhooks serves. That set is taken
from the code, not from a list: the process counters and histograms in `service.metrics.REGISTRY`
and the database gauges that `DatabaseCollector` reports from a migrated SQLite file.

PromQL syntax is checked by whichever checker is installed, each in its own test: Prometheus's
`promtool` (Debian's `prometheus` package; it also runs the alert unit tests in
alerts.test.yaml and checks scrape.yaml) and the `promql-parser` package from PyPI (which also
lets the database gauges be checked for `max` and the counters for `sum(rate(...))`). Neither is
a dependency of the project: without them those tests skip and the rest still run.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import pytest

from service import metrics
from service.storage import db, migrate
from service.storage.gauges import DatabaseCollector
from tests.support import IN_CI

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yaml"
ALERT_TESTS = PROMETHEUS / "alerts.test.yaml"
SCRAPE = PROMETHEUS / "scrape.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "zoomhooks.json"
OPERATIONS = ROOT / "docs" / "operations.md"
K8S = ROOT / "deploy" / "k8s"

#: Added by a change in progress: Zoom API calls made today (UTC) per account and rate-limit
#: category, read from the database, and ZOOMHOOKS_ZOOM_DAILY_CAP. Both are the same from every
#: process. Once they are in the registry or the collector, this set is merely redundant.
PENDING_GAUGES = {"zoomhooks_zoom_daily_calls", "zoomhooks_zoom_daily_cap"}
#: Series Prometheus adds to every target itself.
SCRAPE_SERIES = {"up"}
#: Rows of the dashboard, in order.
ROWS = [
    "Ingest",
    "Backlog",
    "Processing",
    "Follow-ups",
    "Zoom API",
    "Rate governor",
    "WebSocket listener",
    "Write-side actions",
    "Recordings",
    "Embedded",
]
#: What Grafana puts in place of its interval variables, for the PromQL checkers.
GRAFANA_INTERVALS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
DATASOURCE = "${DS_PROMETHEUS}"
#: Alerts the runbook and the operators count on (name: severities).
REQUIRED_ALERTS = {
    "ZoomhooksInboxBacklogGrowing": {"warning"},
    "ZoomhooksInboxOldestUnfinished": {"warning", "critical"},
    "ZoomhooksWebhooksUnavailable": {"critical"},
    "ZoomhooksWebhookSignatureRejections": {"warning"},
    "ZoomhooksEventsFailing": {"warning"},
    "ZoomhooksFollowupsFailing": {"warning"},
    "ZoomhooksFollowupsOverdue": {"warning"},
    "ZoomhooksIngestSlow": {"warning"},
    "ZoomhooksZoomDailyCapNear": {"warning", "critical"},
    "ZoomhooksTargetDown": {"warning"},
    "ZoomhooksJobDown": {"critical"},
}

# PyYAML comes with uvicorn[standard]; it ships no type hints, so it is imported untyped.
yaml: Any = importlib.import_module("yaml")


# --- what zoomhooks exposes ---------------------------------------------------------------


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Metric family name -> type: the process's own (`registry`), and the gauges read from a
    migrated database at scrape time (`database`)."""
    engine = db.create(f"sqlite:///{tmp_path_factory.mktemp('monitoring') / 'gauges.sqlite3'}")
    try:
        migrate.upgrade(engine)
        from_database = {f.name: f.type for f in DatabaseCollector(engine).collect()}
    finally:
        engine.dispose()
    return {
        "registry": {f.name: f.type for f in metrics.REGISTRY.collect()},
        "database": from_database,
    }


@pytest.fixture(scope="module")
def families(collected: dict[str, dict[str, str]]) -> dict[str, str]:
    """Metric family name -> type, for everything a zoomhooks process can serve."""
    pending = dict.fromkeys(PENDING_GAUGES, "gauge")
    return {**pending, **collected["registry"], **collected["database"]}


@pytest.fixture(scope="module")
def same_from_every_process(collected: dict[str, dict[str, str]]) -> set[str]:
    """Gauges read from the database (or the settings): identical from every pod, so `max`."""
    return set(collected["database"]) | PENDING_GAUGES


def series_names(name: str, kind: str) -> set[str]:
    """The sample names a family of this type exposes (prometheus_client's conventions)."""
    if kind == "counter":
        return {f"{name}_total", f"{name}_created"}
    if kind == "histogram":
        return {f"{name}_{suffix}" for suffix in ("bucket", "sum", "count", "created")}
    if kind == "summary":
        return {name, f"{name}_sum", f"{name}_count", f"{name}_created"}
    return {name}


@pytest.fixture(scope="module")
def exposed(families: dict[str, str]) -> set[str]:
    names = set(SCRAPE_SERIES)
    for name, kind in families.items():
        names |= series_names(name, kind)
    return names


def test_every_documented_metric_is_in_the_exposed_set(exposed: set[str]) -> None:
    """A guard on the guard: the set computed from the code holds what operations.md lists."""
    documented = re.findall(r"^\| `(zoomhooks_\w+)` \|", OPERATIONS.read_text(), re.M)
    assert len(documented) >= 13, "docs/operations.md: the metrics table moved?"
    for name in documented:
        assert {name, f"{name}_bucket"} & exposed, f"{name} is documented, not exposed"


# --- reading PromQL -----------------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:$])([A-Za-z_:][\w:]*)(?![\w:])(\s*\()?")
#: Words of PromQL that are neither metrics nor followed by "(".
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"}
_KEYWORDS |= {"by", "without", "on", "ignoring", "group_left", "group_right"}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression, without a parser: what is left once strings, label
    matchers, ranges, grouping clauses, calls and keywords are taken out."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    return {
        match[1]
        for match in _IDENTIFIER.finditer(text)
        if not match[2] and match[1].lower() not in _KEYWORDS
    }


def for_checkers(expr: str) -> str:
    """A dashboard expression as Prometheus sees it: Grafana's interval variables filled in."""
    for variable, value in GRAFANA_INTERVALS.items():
        expr = expr.replace(variable, value)
    return expr


@cache
def missing(reason: str) -> NoReturn:
    """Skip locally; under CI=true a missing checker is a failure, since CI must check."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def promql_parser() -> ModuleType | None:
    try:
        return importlib.import_module("promql_parser")
    except ImportError:
        return None


def need_parser() -> Any:
    parser = promql_parser()
    if parser is None:
        missing("promql-parser is not installed (scripts/lint-deploy installs it)")
    return parser


def need_promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        missing("promtool is missing (scripts/lint-deploy installs it: apt-get install prometheus)")
    return promtool


def children(node: Any) -> list[Any]:
    kind = type(node).__name__
    if kind == "AggregateExpr":
        return [node.expr] + ([node.param] if node.param is not None else [])
    if kind == "BinaryExpr":
        return [node.lhs, node.rhs]
    if kind == "Call":
        return list(node.args)
    if kind == "MatrixSelector":
        return [node.vector_selector]
    if kind in {"ParenExpr", "UnaryExpr", "SubqueryExpr"}:
        return [node.expr]
    return []


def selectors(node: Any, ancestors: tuple[Any, ...] = ()) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(metric name, the nodes above it, outermost first) for every vector selector."""
    if type(node).__name__ == "VectorSelector":
        yield node.name, ancestors
    for child in children(node):
        yield from selectors(child, (*ancestors, node))


# --- alerts.yaml --------------------------------------------------------------------------


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    anchors = set()
    for title in re.findall(r"^#+ (.+)$", markdown, re.M):
        anchors.add(re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-"))
    return anchors


def test_the_rule_file_is_complete_and_every_alert_is_actionable() -> None:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    assert set(document) == {"groups"}
    groups = [group["name"] for group in document["groups"]]
    assert len(groups) == len(set(groups)), "group names must be unique"
    operations = OPERATIONS.read_text(encoding="utf-8")
    anchors = heading_anchors(operations)
    seen: dict[str, set[str]] = {}
    for rule in alert_rules():
        name = rule.get("alert")
        assert name, f"only alerting rules belong here: {rule}"
        assert isinstance(rule.get("expr"), str) and rule["expr"].strip(), name
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), f"{name}: `for` missing"
        severity = rule.get("labels", {}).get("severity")
        assert severity in {"warning", "critical"}, f"{name}: severity {severity!r}"
        assert severity not in seen.get(name, set()), f"{name}: two {severity} rules"
        seen.setdefault(name, set()).add(severity)
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            assert str(annotations.get(key, "")).strip(), f"{name}: no {key}"
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert page == "docs/operations.md" and anchor in anchors, f"{name}: runbook_url"
        for entry in re.findall(r'Runbook: "([^"]+)"', annotations["description"]):
            assert f"**{entry}**" in operations, f"{name}: no runbook entry {entry!r}"
    for name, severities in REQUIRED_ALERTS.items():
        assert severities <= seen.get(name, set()), f"missing alert {name} {severities}"


def test_alerts_name_only_metrics_zoomhooks_exposes(exposed: set[str]) -> None:
    for rule in alert_rules():
        unknown = metric_names(rule["expr"]) - exposed
        assert not unknown, f"{rule['alert']}: no such metric {sorted(unknown)}"


def test_alert_unit_tests_use_only_metrics_zoomhooks_exposes(exposed: set[str]) -> None:
    document = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))
    assert document["rule_files"] == [ALERTS.name]
    for test in document["tests"]:
        for series in test["input_series"]:
            name = series["series"].partition("{")[0]
            assert name in exposed, f"alerts.test.yaml: no such metric {name}"


def test_the_alerts_parse_with_promtool() -> None:
    promtool = need_promtool()
    result = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_unit_tests_pass() -> None:
    promtool = need_promtool()
    result = subprocess.run(
        [promtool, "test", "rules", ALERT_TESTS.name],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the dashboard ------------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def targets() -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every query on the dashboard, template variables' included."""
    board = dashboard()
    for panel in all_panels(board["panels"]):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target['refId']}", target["expr"]
    for variable in board["templating"]["list"]:
        query = variable.get("query")
        if variable["type"] == "query":
            query = query["query"] if isinstance(query, dict) else query
            match = re.fullmatch(r"label_values\((.+),\s*\w+\)", query)
            assert match, f"variable {variable['name']}: expected label_values(selector, label)"
            yield f"variable {variable['name']}", match[1]


def datasources(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from datasources(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasources(item)


def test_the_dashboard_is_importable_and_provisionable() -> None:
    board = dashboard()
    assert board["schemaVersion"] >= 38
    assert board["uid"] == "zoomhooks" and board["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    source = variables["DS_PROMETHEUS"]
    assert (source["type"], source["query"]) == ("datasource", "prometheus")
    # No data source uid of anyone's Grafana: every reference is the variable.
    for reference in datasources(board):
        assert reference == {"type": "prometheus", "uid": DATASOURCE}, reference
    assert "__inputs" not in board, "a provisioned dashboard cannot resolve __inputs"


def test_the_dashboard_has_its_rows_and_a_sane_layout() -> None:
    board = dashboard()
    top = board["panels"]
    assert [p["title"] for p in top if p["type"] == "row"] == ROWS
    panels = list(all_panels(top))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]
        if panel["type"] == "row":
            continue
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        assert all(t["expr"].strip() for t in panel["targets"]), panel["title"]


def test_the_dashboard_names_only_metrics_zoomhooks_exposes(exposed: set[str]) -> None:
    for where, expr in targets():
        unknown = metric_names(expr) - exposed
        assert not unknown, f"{where}: no such metric {sorted(unknown)}"


def test_the_dashboard_shows_every_metric(families: dict[str, str]) -> None:
    named = set().union(*(metric_names(expr) for _, expr in targets()))
    for name, kind in families.items():
        assert series_names(name, kind) & named, f"no panel shows {name}"


# --- PromQL syntax, by each checker there is ----------------------------------------------


def every_expression() -> list[tuple[str, str]]:
    found = [(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()]
    return found + [(where, for_checkers(expr)) for where, expr in targets()]


def test_every_expression_parses_with_promql_parser() -> None:
    parser = need_parser()
    errors = []
    for where, expr in every_expression():
        try:
            parser.parse(expr)
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
    assert not errors, "\n".join(errors)


def test_every_dashboard_expression_parses_with_promtool(tmp_path: Path) -> None:
    promtool = need_promtool()
    rules = [
        {"record": f"dashboard:expression_{number}", "expr": for_checkers(expr)}
        for number, (_, expr) in enumerate(targets())
    ]
    path = tmp_path / "dashboard.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_fallback_reader_finds_what_the_parser_finds() -> None:
    """`metric_names` is what runs where no parser is installed: keep it honest."""
    parser = need_parser()
    for where, expr in every_expression():
        parsed = {name for name, _ in selectors(parser.parse(expr)) if name}
        assert metric_names(expr) == parsed, where


def test_gauges_from_the_database_take_max_and_counters_sum_a_rate(
    families: dict[str, str], same_from_every_process: set[str]
) -> None:
    """Every web pod reports the database gauges: a `sum` over pods would multiply them. Each
    process counts on its own: counters are only meaningful as `sum(rate(...))`."""
    parser = need_parser()
    counted = set()
    for name, kind in families.items():
        if kind in {"counter", "histogram"}:
            counted |= series_names(name, kind) - {f"{name}_created"}
    for where, expr in every_expression():
        for name, ancestors in selectors(parser.parse(expr)):
            aggregations = [str(n.op) for n in ancestors if type(n).__name__ == "AggregateExpr"]
            if name in same_from_every_process:
                assert aggregations and aggregations[-1] == "max", f"{where}: max of {name}"
            elif name in counted:
                calls = [n.func.name for n in ancestors if type(n).__name__ == "Call"]
                assert calls and calls[-1] in {"rate", "increase"}, f"{where}: rate of {name}"
                assert aggregations and aggregations[-1] == "sum", f"{where}: sum of {name}"


# --- scrape.yaml --------------------------------------------------------------------------


def relabel(labels: dict[str, str], configs: list[dict[str, Any]]) -> dict[str, str] | None:
    """Prometheus's relabelling (keep, drop, replace), enough for scrape.yaml: None = dropped."""
    labels = dict(labels)
    for config in configs:
        action = config.get("action", "replace")
        value = config.get("separator", ";").join(
            labels.get(name, "") for name in config.get("source_labels", [])
        )
        match = re.fullmatch(config.get("regex", "(.*)"), value)
        if action == "keep" and not match:
            return None
        if action == "drop" and match:
            return None
        if action == "replace" and match:
            template = re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", config.get("replacement", "$1"))
            result = match.expand(template)
            if result:
                labels[config["target_label"]] = result
            else:
                labels.pop(config["target_label"], None)
    return labels


def pod_templates() -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind/name, pod template) of every workload in deploy/k8s."""
    for path in sorted(K8S.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            spec = (document or {}).get("spec", {})
            template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get(
                "template"
            )
            if template:
                yield f"{document['kind']}/{document['metadata']['name']}", template


def discovered(template: dict[str, Any], ip: str, phase: str = "Running") -> list[dict[str, str]]:
    """The labels kubernetes_sd (role: pod) gives each declared port of a pod of this template."""

    def clean(name: str) -> str:
        return re.sub(r"[^A-Za-z0-9_]", "_", name)

    meta = template["metadata"]
    base = {
        "__meta_kubernetes_namespace": "prod",
        "__meta_kubernetes_pod_name": "pod-1",
        "__meta_kubernetes_pod_ip": ip,
        "__meta_kubernetes_pod_phase": phase,
        "__metrics_path__": "/metrics",
    }
    for key, value in meta.get("labels", {}).items():
        base[f"__meta_kubernetes_pod_label_{clean(key)}"] = value
    for key, value in meta.get("annotations", {}).items():
        base[f"__meta_kubernetes_pod_annotation_{clean(key)}"] = value
    ports = [
        port["containerPort"]
        for container in template["spec"]["containers"]
        for port in container.get("ports", [])
    ]
    host = f"[{ip}]" if ":" in ip else ip
    return [{**base, "__address__": f"{host}:{port}"} for port in ports] or [
        {**base, "__address__": host}
    ]


def test_the_scrape_config_finds_every_annotated_pod_in_deploy_k8s() -> None:
    config = yaml.safe_load(SCRAPE.read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert len(jobs) == len(config["scrape_configs"]), "job names must be unique"
    assert all(name.startswith("zoomhooks") for name in jobs), "alerts match job=~zoomhooks.*"
    assert config["rule_files"] == [ALERTS.name]
    k8s = [job for job in jobs.values() if "kubernetes_sd_configs" in job]
    assert len(k8s) == 1
    job = k8s[0]
    scraped = set()
    for name, template in pod_templates():
        annotations = template["metadata"].get("annotations", {})
        for ip in ("10.1.2.3", "fd00::7"):
            for labels in discovered(template, ip):
                target = relabel({"job": job["job_name"], **labels}, job["relabel_configs"])
                if annotations.get("prometheus.io/scrape") != "true":
                    assert target is None, f"{name} has no scrape annotation but is scraped"
                    continue
                assert target is not None, f"{name} is annotated but not scraped"
                host = f"[{ip}]" if ":" in ip else ip
                assert target["__address__"] == f"{host}:{annotations['prometheus.io/port']}"
                assert target["__metrics_path__"] == annotations["prometheus.io/path"]
                component = template["metadata"]["labels"]["app.kubernetes.io/component"]
                assert target["job"] == f"zoomhooks-{component}"
                assert target["namespace"] == "prod"
                scraped.add(component)
        for labels in discovered(template, "10.1.2.3", phase="Pending"):
            assert relabel(labels, job["relabel_configs"]) is None, f"{name}: pending pod"
    assert scraped == {"web", "worker", "listener"}


def test_the_scrape_config_passes_promtool(tmp_path: Path) -> None:
    """Debian's promtool is built without Kubernetes discovery: that job gets a static target
    for the check (its relabelling is still parsed); the test above covers its discovery."""
    promtool = need_promtool()
    config = yaml.safe_load(SCRAPE.read_text(encoding="utf-8"))
    for job in config["scrape_configs"]:
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["static_configs"] = [{"targets": ["10.1.2.3:8000"]}]
    (tmp_path / "scrape.yaml").write_text(yaml.safe_dump(config))
    shutil.copy(ALERTS, tmp_path / ALERTS.name)
    result = subprocess.run(
        [promtool, "check", "config", "scrape.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
