"""A fake Zoom REST API for tests and local development.

fake = FakeZoom()
fake.world.add_webinar(81234567890, participants=1000, absentees=20, questions=5, polls=2)
fake.faults.rate_limit("/v2/past_webinars/*/participants", count=2)
with running(fake) as server:
    ...  # point the client at server.oauth_url and server.api_url
assert fake.calls("listWebinarParticipants") == 4 + 2
assert fake.peak_rate(category="Medium") <= 60  # Zoom's per-second limit for Medium

More accounts: `FakeZoom(accounts=[FakeAccount("acct-b", "client-b", "secret-b")])`; each request
record names the account whose token made it (`fake.calls(account_id="acct-b")`).
"""

from .app import DEFAULT_ACCOUNT_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeZoom, create_app
from .encoding import decode_path_id, encode_path_id, needs_double_encoding
from .errors import NOT_IMPLEMENTED_CODE, SPEC_VIOLATION_CODE, ZoomError
from .faults import Fault, FaultKind, Faults
from .log import RequestLog, RequestRecord
from .oauth import FakeAccount
from .people import make_uuid
from .server import RunningFake, running, serve
from .sockets import FakeSockets, SubscriptionStats
from .spec import Spec, SpecViolation
from .tokens import ManualClock
from .world import Instance, World, zoom_time

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "NOT_IMPLEMENTED_CODE",
    "SPEC_VIOLATION_CODE",
    "FakeAccount",
    "FakeSockets",
    "FakeZoom",
    "Fault",
    "FaultKind",
    "Faults",
    "Instance",
    "ManualClock",
    "RequestLog",
    "RequestRecord",
    "RunningFake",
    "Spec",
    "SpecViolation",
    "SubscriptionStats",
    "World",
    "ZoomError",
    "create_app",
    "decode_path_id",
    "encode_path_id",
    "make_uuid",
    "needs_double_encoding",
    "running",
    "serve",
    "zoom_time",
]
