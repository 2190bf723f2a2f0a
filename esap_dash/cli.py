"""The ``esap-dash`` command."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import Sequence

from .core.config import ProfileError, available_profiles, load_profile
from .core.memory import serving_environment, uses_serving_allocator

__all__ = ["main"]


def _overrides(pairs: Sequence[str]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ProfileError(f"--set {pair!r}: expected section.key=value")
        result[key.strip()] = value.strip()
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="esap-dash",
        description="A science analysis platform dashboard (Panel/HoloViz).")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile", help="profile name ({}) or file; default "
                        "$ESAP_DASH_PROFILE, else local".format(", ".join(available_profiles())))
    common.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a profile setting (repeatable)")
    serve = sub.add_parser("serve", parents=[common], help="serve the dashboard")
    serve.add_argument("--port", type=int, default=5006, help="TCP port (default 5006)")
    serve.add_argument("--address", default="127.0.0.1",
                       help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--allow-open", action="store_true",
                       help="serve a profile without logins beyond this machine: everyone "
                            "who reaches the address acts as its one user")
    serve.add_argument("--show", action="store_true", help="open a browser")
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes; more than 1 runs them behind nginx on "
                            "--port, the workers on the ports after it (default 1)")
    # A worker started by --workers: where browsers reach it (nginx).
    serve.add_argument("--front", default="", help=argparse.SUPPRESS)
    sub.add_parser("check", parents=[common], help="check every configured service and exit")
    sub.add_parser("profiles", help="list the shipped profiles")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    ``serve`` runs with the C allocator (:mod:`esap_dash.core.memory`): started
    without it, the command starts itself again with it (same process).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if args.command == "profiles":
        print("\n".join(available_profiles()))
        return 0
    try:
        profile = load_profile(args.profile, overrides=_overrides(args.set))
    except ProfileError as exc:
        print(f"esap-dash: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        from .core.health import check_all

        results = check_all(profile.services)
        for h in results:
            print(f"{'up  ' if h.up else 'DOWN'}  {h.name:<32} {h.seconds * 1000:7.0f} ms  "
                  f"{h.detail}")
        return 0 if all(h.up for h in results) else 1
    if profile.users == "single" and not _loopback(args.address):
        if not args.allow_open:
            print(f"esap-dash: profile {profile.name!r} has no logins: served at "
                  f"{args.address}, everyone who reaches it would act as its one user and "
                  "see every cart. Serve it on 127.0.0.1, configure logins ([oidc]), or "
                  "say --allow-open.", file=sys.stderr)
            return 2
        print(f"esap-dash: WARNING: profile {profile.name!r} has no logins and is served "
              f"at {args.address}: everyone who reaches it acts as its one user.",
              file=sys.stderr, flush=True)
    if args.workers > 1:
        from .serving import ServingError, serve_workers

        shared = [*(["--profile", args.profile] if args.profile else []),
                  *(f"--set={pair}" for pair in args.set)]
        try:
            return serve_workers(shared, args.workers, port=args.port, address=args.address)
        except ServingError as exc:
            print(f"esap-dash: {exc}", file=sys.stderr)
            return 1
    if args.workers < 1:
        print("esap-dash: --workers must be 1 or more", file=sys.stderr)
        return 2
    from .app import serve

    if not uses_serving_allocator():
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, "-m", "esap_dash.cli", *argv],
                  serving_environment(os.environ))
    if not args.front:
        print(f"esap-dash: serving profile {profile.name!r} at "
              f"http://{args.address}:{args.port}/", flush=True)
    serve(profile, port=args.port, address=args.address, show=args.show,
          front=args.front or None)
    return 0


def _loopback(address: str) -> bool:
    """Whether ``address`` is reachable only from this machine."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # a host name, or "" (every interface)
        return False


if __name__ == "__main__":
    sys.exit(main())
