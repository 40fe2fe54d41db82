"""The load benchmark's own parts: a baseline revision's code (bench.procs, shared with bench.writes), another
interpreter, and the side-by-side summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.load import PEER, Block, cheaper_in, python_version, summary
from bench.load_client import LoadResult
from bench.procs import baseline_tree

ROOT = Path(__file__).resolve().parent.parent.parent


def test_a_baseline_is_the_repository_at_that_revision(tmp_path: Path) -> None:
    first = subprocess.run(["git", "-C", str(ROOT), "rev-list", "--max-parents=0", "HEAD"], check=True,
                           capture_output=True, text=True).stdout.split()[0]
    tree = baseline_tree(first, tmp_path / "baseline")
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "-r", "--name-only", first], check=True,
                            capture_output=True, text=True).stdout.split()
    assert sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()) == sorted(listed)
    content = subprocess.run(["git", "-C", str(ROOT), "show", f"{first}:{listed[0]}"], check=True,
                            capture_output=True).stdout
    assert (tree / listed[0]).read_bytes() == content
    with pytest.raises(subprocess.CalledProcessError):
        baseline_tree("no-such-revision", tmp_path / "none")


def test_another_interpreter_is_named_by_its_version_and_must_run_the_gateway(tmp_path: Path) -> None:
    assert python_version(sys.executable) == f"{sys.version_info[0]}.{sys.version_info[1]}"
    with pytest.raises(SystemExit, match="no-such-python"):
        python_version(str(tmp_path / "no-such-python"))
    without = tmp_path / "python"  # an interpreter for which the gateway does not import
    without.write_text("#!/bin/sh\nexit 1\n")
    without.chmod(0o755)
    with pytest.raises(SystemExit, match="is the project installed for it"):
        python_version(str(without))


def _block(server: str, requests: int, cpu_ms: float) -> Block:
    return Block(server, LoadResult(requests, 0, 10.0, 30.0, 60.0, "wrk"), cpu_ms, 1.0, 3.0)


def test_the_summary_compares_the_gateway_with_every_other_server(capsys: pytest.CaptureFixture[str]) -> None:
    summary([_block("gateway", 3000, 3.0), _block("gateway@abc1234", 2500, 3.6), _block(PEER, 6000, 1.5),
             _block("gateway", 3200, 3.2)], ["gateway", "gateway@abc1234", PEER])
    lines = capsys.readouterr().out.splitlines()
    assert "  gateway / gateway@abc1234: throughput 1.24x, CPU per request 0.86x; less CPU per request in 1 of 1 " \
           "rounds" in lines
    assert any(line.startswith("  gateway / node peer: throughput 0.52x, CPU per request 2.07x; less CPU per request "
                               "in 0 of 1 rounds (issue 9's goal") for line in lines)


def test_the_summary_counts_the_rounds_each_side_spent_less() -> None:
    blocks = [_block("gateway", 3000, 3.0), _block("base", 3000, 3.5), _block("base", 3000, 2.9),
              _block("gateway", 3000, 3.1), _block("gateway", 3000, 4.0), _block("base", 3000, 4.2)]
    assert cheaper_in(blocks, "gateway", "base") == (2, 3)
    assert cheaper_in(blocks, "base", "gateway") == (1, 3)
