"""Run one CRM org stand-in: `python -m emulators.crm --org us --port 8001 [--people N] [--db PATH]`."""

from __future__ import annotations

import argparse

from emulators.knobs import add_knob_arguments, knobs_from
from emulators.seed import ORGS, build_world
from emulators.server import EmulatorServer

from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.crm", description=__doc__)
    parser.add_argument("--org", choices=ORGS, default="us")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", help="SQLite file (default: in memory)")
    parser.add_argument("--token-ttl", type=float, default=7200.0)
    parser.add_argument("--daily-limit", type=int, default=100000)
    add_knob_arguments(parser)
    args = parser.parse_args(argv)
    knobs = knobs_from(args)
    world = build_world(args.people, seed=args.seed)
    app = create_app(args.org, world, knobs=knobs, db_url=f"sqlite:///{args.db}" if args.db else "sqlite://",
                     token_ttl_s=args.token_ttl, daily_limit=args.daily_limit)
    EmulatorServer.for_app(app, args.port, args.host).run_until_interrupted(f"CRM org {args.org} on " + "{url}")

if __name__ == "__main__":
    main()
