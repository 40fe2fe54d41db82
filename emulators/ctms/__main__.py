"""Run the CTMS stand-in: `python -m emulators.ctms --port P [--people N] [--db PATH]`."""

from __future__ import annotations

import argparse

from emulators.knobs import add_knob_arguments, knobs_from
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
    add_knob_arguments(parser)
    args = parser.parse_args(argv)
    knobs = knobs_from(args)
    app = create_app(build_world(args.people, args.seed), knobs=knobs,
                     db_url=f"sqlite:///{args.db}" if args.db else "sqlite://",
                     session_idle_s=args.session_idle_s, burst_limit=args.burst_limit)
    EmulatorServer.for_app(app, args.port, args.host).run_until_interrupted("CTMS stand-in on {url}/api/v26.1")

if __name__ == "__main__":
    main()
