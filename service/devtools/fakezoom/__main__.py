"""`python -m service.devtools.fakezoom`: serve a fake Zoom on a port.

    python -m service.devtools.fakezoom --port 8765 \\
        --webinar id=81234567890,participants=1000,absentees=20,questions=5,polls=2 \\
        --meeting id=93398114182,uuid=/abc//d==,participants=50 \\
        --extra-account beta-account:beta-client:beta-client-secret

Every account gets tokens with its own app's credentials; the world is shared by all.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from .app import DEFAULT_ACCOUNT_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeZoom
from .oauth import FakeAccount
from .server import DEFAULT_HOST, DEFAULT_PORT, serve
from .tokens import DEFAULT_PAGE_TOKEN_TTL, DEFAULT_TOKEN_LIFETIME
from .world import World

_INT_KEYS = {
    "id",
    "participants",
    "absentees",
    "questions",
    "polls",
    "seed",
    "duration_minutes",
    "poll_respondents",
}
_BOOL_KEYS = {"registration", "too_old", "rejoins"}


def parse_instance(text: str) -> dict[str, Any]:
    """`id=1,uuid=/a//b==,participants=10` -> keyword arguments (split on the first `=`)."""
    args: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected key=value, got {item!r}")
        if key in _INT_KEYS:
            args[key] = int(value)
        elif key in _BOOL_KEYS:
            args[key] = value.lower() in ("1", "true", "yes")
        else:
            args[key] = value
    if "id" not in args:
        raise argparse.ArgumentTypeError(f"{text!r} has no id=")
    return args


def parse_account(text: str) -> FakeAccount:
    """`ACCOUNT_ID:CLIENT_ID:CLIENT_SECRET` -> a further account (the secret may hold `:`)."""
    account_id, _, rest = text.partition(":")
    client_id, _, client_secret = rest.partition(":")
    if not (account_id and client_id and client_secret):
        raise argparse.ArgumentTypeError(
            f"expected ACCOUNT_ID:CLIENT_ID:CLIENT_SECRET, got {text.split(':')[0]!r}..."
        )
    return FakeAccount(account_id, client_id, client_secret)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m service.devtools.fakezoom", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--webinar", type=parse_instance, action="append", default=[], metavar="id=N,..."
    )
    parser.add_argument(
        "--meeting", type=parse_instance, action="append", default=[], metavar="id=N,..."
    )
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument("--account-id", default=DEFAULT_ACCOUNT_ID)
    parser.add_argument(
        "--extra-account",
        type=parse_account,
        action="append",
        default=[],
        metavar="ACCOUNT_ID:CLIENT_ID:CLIENT_SECRET",
        help="another account with its own app (repeatable)",
    )
    parser.add_argument(
        "--token-lifetime", type=float, default=DEFAULT_TOKEN_LIFETIME, help="seconds"
    )
    parser.add_argument(
        "--page-token-ttl", type=float, default=DEFAULT_PAGE_TOKEN_TTL, help="seconds"
    )
    parser.add_argument("--log-level", default="info")
    return parser


def build_fake(args: argparse.Namespace) -> FakeZoom:
    """The fake the parsed command line describes."""
    world = World()
    for webinar in args.webinar:
        world.add_webinar(webinar.pop("id"), **webinar)
    for meeting in args.meeting:
        world.add_meeting(meeting.pop("id"), **meeting)
    return FakeZoom(
        world,
        client_id=args.client_id,
        client_secret=args.client_secret,
        account_id=args.account_id,
        accounts=args.extra_account,
        token_lifetime=args.token_lifetime,
        page_token_ttl=args.page_token_ttl,
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    serve(build_fake(args), args.host, args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
