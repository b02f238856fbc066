"""The operations views (deploy/grafana, deploy/prometheus) name only metrics the service
exports, and the alerting rules are valid Prometheus rules (promtool)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import koprogo_graph.app
import koprogo_graph.ingest.service  # noqa: F401

DEPLOY = Path(__file__).parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "koprogo-graph.json"


def exported() -> set[str]:
    """The sample names /metrics can show, by each metric family's type."""
    names: set[str] = set()
    for family in REGISTRY.collect():
        if family.type == "counter":
            names |= {family.name + "_total", family.name + "_created"}
        elif family.type == "histogram":
            names |= {family.name + s for s in ("_bucket", "_sum", "_count", "_created")}
        else:
            names.add(family.name)
    return names


def named(text: str) -> set[str]:
    return set(re.findall(r"\bkoprogo_[a-z_]+\b", text))


def test_every_metric_the_dashboard_and_the_rules_name_is_exported():
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load(RULES.read_text())
    rule_exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    used = named(" ".join(exprs + rule_exprs))
    assert used, "the views name metrics"
    assert used - exported() == set()


def test_the_dashboard_covers_what_operators_watch():
    text = DASHBOARD.read_text()
    for metric in (
        "koprogo_readings_ingested_total",  # ingest rate
        "koprogo_ingest_lag_seconds_bucket",  # and lag
        "koprogo_readings_rejected_total",  # rejections by reason
        "koprogo_live_subscribers",  # live subscribers
        "koprogo_live_events_dropped_slow_total",  # and drops
        "koprogo_notifications_due",  # notification backlog
        "koprogo_alert_evaluations_pending",  # alert backlog
        "koprogo_database_up",
        "koprogo_redis_up",
    ):
        assert metric in text, metric


def test_the_alerting_rules_are_valid_prometheus_rules():
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("KOPROGO_CI"):
            pytest.fail("promtool is missing (Debian: apt-get install prometheus)")
        pytest.skip("promtool is not installed here (Debian: apt-get install prometheus)")
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
