"""A process's resident memory and open file descriptors, sampled from /proc/<pid>/ in a background thread, and
whether they grew after warm-up."""

from __future__ import annotations

import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since sampling started
    rss_kib: int
    fds: int


def sample(pid: int) -> tuple[int, int] | None:
    """(VmRSS in KiB, open file descriptors) of a live process; None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return rss, fds


@dataclass
class Usage:
    """Samples of one process every `every_s` seconds, from `start()` until `stop()` (or until it exits)."""

    pid: int
    every_s: float = 1.0
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Usage:
        started = time.monotonic()

        def run() -> None:
            while not self._stop.is_set():
                got = sample(self.pid)
                if got is None:
                    return
                self.samples.append(Sample(time.monotonic() - started, *got))
                self._stop.wait(self.every_s)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


@dataclass(frozen=True)
class Growth:
    """RSS and descriptors just after warm-up (the median over a window) and at the end (the median of the last
    samples), and how much they grew."""

    samples: int
    warm_up_s: float
    rss_after_warm_up_kib: float
    rss_end_kib: float
    fds_after_warm_up: float
    fds_end: float

    @property
    def rss_growth_kib(self) -> float:
        return self.rss_end_kib - self.rss_after_warm_up_kib

    @property
    def fds_growth(self) -> float:
        return self.fds_end - self.fds_after_warm_up


def growth(samples: list[Sample], warm_up_s: float, window_s: float = 10.0) -> Growth | None:
    """None when there are too few samples after warm-up to tell."""
    after = [s for s in samples if s.at >= warm_up_s]
    first = [s for s in after if s.at < warm_up_s + window_s]
    last = [s for s in after if s.at > after[-1].at - window_s] if after else []
    if len(first) < 3 or len(last) < 3 or last[0].at <= first[-1].at:
        return None
    return Growth(len(samples), warm_up_s, statistics.median(s.rss_kib for s in first),
                  statistics.median(s.rss_kib for s in last), statistics.median(s.fds for s in first),
                  statistics.median(s.fds for s in last))
