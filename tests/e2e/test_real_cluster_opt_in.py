"""The opt-in real-cluster runs (tests/conftest.py, marker `kubernetes`), without a real
cluster: the runtime suite collected with and without MBOX_TEST_KUBECONFIG, and one test
run with it pointed at the test cluster (a real API server over HTTP, as far as the
runtime can tell)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import ROOT

pytest_plugins = ("pytester",)

SUITE = ROOT / "tests" / "runtime" / "test_files.py"
ONE_TEST = "test_write_list_read_delete"


@pytest.fixture
def collect(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """Collect SUITE in this process (its modules are imported already: fast), no real
    cluster set; returns the outcome and the collected ids."""
    monkeypatch.delenv("MBOX_TEST_KUBECONFIG", raising=False)

    def run(*args: str) -> tuple[pytest.RunResult, list[str]]:
        result = pytester.runpytest_inprocess(
            "--rootdir", str(ROOT), "-p", "no:cacheprovider", "--collect-only", "-q", *args, SUITE
        )
        return result, [line for line in result.outlines if "::" in line]

    return run


def test_without_a_kubeconfig_the_real_runs_are_left_out(collect) -> None:
    for args in ((), ("-m", "not e2e")):
        result, ids = collect(*args)
        assert result.ret == pytest.ExitCode.OK, result.outlines
        assert ids and not [i for i in ids if "real-kubernetes" in i]
        assert [i for i in ids if "-kubernetes]" in i]  # the test cluster's runs stay


def test_asking_for_them_without_a_kubeconfig_fails_in_words(collect) -> None:
    for markexpr in ("kubernetes", "kubernetes and both_runtimes"):
        result, _ = collect("-m", markexpr)
        assert result.ret == pytest.ExitCode.USAGE_ERROR, result.outlines
        assert "set MBOX_TEST_KUBECONFIG to its kubeconfig" in result.stderr.str()


def test_with_a_kubeconfig_they_run_against_that_cluster(kube_cluster: Any, tmp_path: Path) -> None:
    """In a subprocess: the runtime suite's async fixtures need an event loop of their own."""
    kubeconfig = kube_cluster.kubeconfig(tmp_path / "config", context="real")
    image = f"example.test/opt-in:{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "MBOX_TEST_KUBECONFIG": str(kubeconfig),
        "MBOX_TEST_KUBE_CONTEXT": "real",
        "MBOX_TEST_KUBE_IMAGE": image,
    }
    args = ["-p", "no:cacheprovider", "-v", "-m", "kubernetes", "-k", ONE_TEST, str(SUITE)]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{ONE_TEST}[sqlite-real-kubernetes] PASSED" in result.stdout  # SQLite only
    assert "1 passed" in result.stdout
    # Its sandbox was this cluster's, with the image a real cluster's nodes would pull.
    templates = kube_cluster.call(lambda store: store.list(store.resource("SandboxTemplate"))[0])
    assert image in json.dumps(templates)
