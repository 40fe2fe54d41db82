"""Run one CRM org stand-in: `python -m emulators.crm --org us --port 8001 [--people N] [--db PATH]`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from emulators.knobs import add_knob_arguments, knobs_from
from emulators.seed import ORGS, build_world, crm_jwt_keys
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
    parser.add_argument("--jwt-certificate", type=Path, help="PEM certificate (or public key) the demo connected "
                        "app checks JWT bearer assertions with (default: one made at start)")
    parser.add_argument("--jwt-private-key-out", type=Path, help="write the private key of the certificate made "
                        "at start to this file (mode 600), for a gateway in another process")
    add_knob_arguments(parser)
    args = parser.parse_args(argv)
    knobs = knobs_from(args)
    world = build_world(args.people, seed=args.seed)
    certificates = [args.jwt_certificate.read_text()] if args.jwt_certificate else None
    if args.jwt_private_key_out:
        if certificates:
            parser.error("--jwt-private-key-out writes the key made at start; with --jwt-certificate none is made")
        _write_private(args.jwt_private_key_out, crm_jwt_keys().private_key)
    app = create_app(args.org, world, knobs=knobs, db_url=f"sqlite:///{args.db}" if args.db else "sqlite://",
                     token_ttl_s=args.token_ttl, daily_limit=args.daily_limit, jwt_certificates=certificates)
    EmulatorServer.for_app(app, args.port, args.host).run_until_interrupted(f"CRM org {args.org} on " + "{url}")


def _write_private(path: Path, pem: str) -> None:
    """Create the file readable by its owner only, then write the key into it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file that existed keeps its mode through O_CREAT
    with os.fdopen(fd, "w") as fh:
        fh.write(pem)


if __name__ == "__main__":
    main()
