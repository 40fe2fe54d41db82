"""Run the CTMS stand-in: `python -m emulators.ctms --port P [--people N] [--db PATH]`."""

from __future__ import annotations

import argparse

from emulators.knobs import Knobs
from emulators.seed import build_world
from emulators.server import EmulatorServer

from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.ctms", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", default=None, help="SQLite file (default: in memory)")
    parser.add_argument("--session-idle-s", type=float, default=1800.0)
    parser.add_argument("--burst-limit", type=int, default=None)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    knobs = Knobs(latency_ms=args.latency_ms)
    app = create_app(build_world(args.people, args.seed), knobs=knobs,
                     db_url=f"sqlite:///{args.db}" if args.db else "sqlite://",
                     session_idle_s=args.session_idle_s, burst_limit=args.burst_limit)
    server = EmulatorServer(app, port=args.port, host=args.host)
    knobs.on_outage_change = server.set_outage
    print(f"CTMS stand-in on {server.url}/api/v26.1", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
