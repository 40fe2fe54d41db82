"""Run the identity provider stand-in: `python -m emulators.idp --port 8301 [--audience A] [--token-ttl-s S]`."""

from __future__ import annotations

import argparse

from emulators.knobs import add_knob_arguments, knobs_from
from emulators.server import EmulatorServer

from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.idp", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8301)
    parser.add_argument("--audience", default="ccgw", help="the aud claim of access tokens")
    parser.add_argument("--token-ttl-s", type=int, default=3600, help="lifetime of access and ID tokens")
    parser.add_argument("--issuer", default=None, help="fixed issuer URL (default: the URL the provider is reached at)")
    add_knob_arguments(parser)
    args = parser.parse_args(argv)
    if args.token_ttl_s < 1:
        parser.error("--token-ttl-s must be at least 1")
    app = create_app(issuer=args.issuer, audience=args.audience, token_ttl_s=args.token_ttl_s,
                     knobs=knobs_from(args))
    EmulatorServer.for_app(app, args.port, args.host).run_until_interrupted("Identity provider on {url}")


if __name__ == "__main__":
    main()
