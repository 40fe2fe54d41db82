"""CPU time and memory of processes from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench import cpu


def test_cpu_rss_and_the_process_tree() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time\nt = time.process_time()\n"
                              "while time.process_time() - t < 0.3: pass\ntime.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while cpu.cpu_seconds(child.pid) < 0.25 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cpu.cpu_seconds(child.pid) >= 0.25
        assert child.pid in cpu.tree(os.getpid())
        assert cpu.rss_mib(child.pid) > 1
        assert cpu.total_cpu([os.getpid(), child.pid]) > cpu.cpu_seconds(child.pid)
    finally:
        child.kill()
        child.wait()
    assert cpu.cpu_seconds(child.pid) == 0.0 and cpu.rss_mib(child.pid) == 0.0
