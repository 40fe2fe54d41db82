"""Several processes behind one scrape: with PROMETHEUS_MULTIPROC_DIR set, what each process counted is added up in
the scrape of any of them, and a gauge shows the most recent value any process set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.slow  # several processes of their own

REPORT = """
import sys, time
from datasources.instrument import ApiBudget, BackendError, emit
from gateway.metrics import install
install()
for _ in range(int(sys.argv[1])):
    emit(BackendError("crm:us", "timeout"))
emit(ApiBudget("crm:us", "daily", int(sys.argv[2]), 5000))
"""
SCRAPE = """
from gateway.metrics_endpoint import OutboxCollector, exposition
from prometheus_client import generate_latest
print(generate_latest(exposition(OutboxCollector())).decode())
"""


def _run(code: str, env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_processes_counts_add_up_in_one_scrape(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    _run(REPORT, env, "2", "4000")  # a gateway process
    _run(REPORT, env, "3", "3900")  # a worker process, later: its budget figure is the newer
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(_run(SCRAPE, env)) for s in family.samples}
    assert samples[("ccgw_backend_errors_total", (("error_type", "timeout"), ("source", "crm:us")))] == 5
    assert samples[("ccgw_api_budget_remaining", (("source", "crm:us"), ("window", "daily")))] == 3900
    # One series per label set, not one per process.
    assert not any(dict(labels).get("pid") for _, labels in samples)


def test_without_the_directory_a_process_shows_its_own() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    text = _run(REPORT.replace("install()", "install()\nfrom prometheus_client import generate_latest")
                + "print(generate_latest().decode())", env, "1", "10")
    assert 'ccgw_backend_errors_total{error_type="timeout",source="crm:us"} 1.0' in text
    assert "process_cpu_seconds_total" in text  # the single-process registry's own collectors
