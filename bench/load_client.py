"""Closed-loop HTTP load on `/graphql`: `wrk` with a Lua script when it is on PATH, else aiohttp in a process of its
own; either way every connection sends the next of a list of bodies (round-robin) as soon as its answer is back.

Run on its own: `python -m bench.load_client URL BODIES.json --connections 16 --seconds 10 [--token T]` prints one
JSON line `{"requests", "errors", "seconds", "p50_ms", "p99_ms"}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

WRK_SCRIPT = """
local bodies = {%s}
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
%s
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, bodies[(counter %% #bodies) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format('\\nRESULT {"requests": %%d, "errors": %%d, "seconds": %%f, "p50_ms": %%f, "p99_ms": %%f}\\n',
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    driver: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def run_wrk(url: str, bodies: list[bytes], connections: int, seconds: float, token: str | None) -> LoadResult:
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    script = WRK_SCRIPT % (", ".join(_lua_string(b.decode()) for b in bodies), auth)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    try:
        out = subprocess.run(["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d",
                              f"{max(1, round(seconds))}s", "--timeout", "10s", "-s", fh.name, url + "/graphql"],
                             capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    finally:
        Path(fh.name).unlink()
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    got = json.loads(line.removeprefix("RESULT "))
    return LoadResult(got["requests"], got["errors"], got["seconds"], got["p50_ms"], got["p99_ms"], "wrk")


async def _aiohttp_load(url: str, bodies: list[bytes], connections: int, seconds: float,
                        token: str | None) -> dict:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    times: list[float] = []
    errors = 0
    counter = 0
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        deadline = time.perf_counter() + seconds

        async def loop() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                body = bodies[counter % len(bodies)]
                counter += 1
                t0 = time.perf_counter()
                async with session.post(url + "/graphql", data=body) as resp:
                    await resp.read()
                    ok = resp.status == 200
                times.append((time.perf_counter() - t0) * 1000)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(connections)))
        took = time.perf_counter() - started
    times.sort()
    pick = (lambda p: times[min(len(times) - 1, round(p / 100 * (len(times) - 1)))]) if times else (lambda p: 0.0)
    return {"requests": len(times), "errors": errors, "seconds": took, "p50_ms": pick(50), "p99_ms": pick(99)}


def run_builtin(url: str, bodies: list[bytes], connections: int, seconds: float, token: str | None) -> LoadResult:
    """The aiohttp client in a process of its own (it must not share a GIL with the bench or a server)."""
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as fh:
        fh.write(json.dumps([b.decode() for b in bodies]).encode())
    try:
        args = [sys.executable, "-m", "bench.load_client", url, fh.name, "--connections", str(connections),
                "--seconds", str(seconds)] + (["--token", token] if token else [])
        out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    finally:
        Path(fh.name).unlink()
    got = json.loads(out.strip().splitlines()[-1])
    return LoadResult(got["requests"], got["errors"], got["seconds"], got["p50_ms"], got["p99_ms"], "aiohttp")


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run_load(url: str, bodies: list[bytes], connections: int, seconds: float, token: str | None,
             driver: str = "auto") -> LoadResult:
    use_wrk = driver == "wrk" or (driver == "auto" and have_wrk())
    return (run_wrk if use_wrk else run_builtin)(url, bodies, connections, seconds, token)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.load_client", description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("bodies", help="a JSON file: a list of request bodies (strings)")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--token")
    args = ap.parse_args()
    bodies = [b.encode() for b in json.loads(Path(args.bodies).read_text())]
    print(json.dumps(asyncio.run(_aiohttp_load(args.url, bodies, args.connections, args.seconds, args.token))))


if __name__ == "__main__":
    main()
