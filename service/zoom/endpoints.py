"""The Zoom endpoints zoomhooks calls, as data: path, parameters, scopes and rate-limit label.

Paths, query parameters, classic scopes and rate-limit labels are those of Zoom's Meeting API
OpenAPI document (2023-10 copy; `tests/zoom` checks every request against it). Granular scopes
are given at `:admin` level, the level a Server-to-Server OAuth app holds: the webinar ones are
the spec's own `x-granular-scopes`; the spec lists none for past meetings, so those come from
Zoom's current API reference as seen in tokens quoted on devforum.zoom.us (/t/142405:
`meeting:read:past_meeting:admin`, `meeting:read:list_past_instances:admin`,
`meeting:read:list_past_participants:admin`, `meeting:read:list_poll_results:admin`,
`meeting:read:past_qa:admin`). The spec lists none for reports either; theirs are from Zoom's
current API reference (developers.zoom.us, Reports: `report:read:webinar:admin`,
`report:read:list_webinar_participants:admin`, `report:read:meeting:admin`,
`report:read:list_meeting_participants:admin`). A token needs the classic scope or the granular
one, not both. Reports also need a paid plan (webinars: the Webinar add-on); without one Zoom
answers 400 code 200 "No permission.".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .ids import encode_path_id, is_numeric_id
from .ratelimit import RateLimitCategory

#: Largest page Zoom serves for these listings (records per page).
DEFAULT_PAGE_SIZE = 300
PAGE_SIZE_PARAM = "page_size"
PAGE_TOKEN_PARAM = "next_page_token"  # noqa: S105 (a parameter name)


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    #: Path template below the API base URL, exactly as in Zoom's spec.
    template: str
    #: Name of the single path parameter.
    id_param: str
    #: Key of the records in the response body; None for a single object.
    records_key: str | None
    #: Paginated by `next_page_token`.
    paginated: bool
    #: Query parameters the caller may set (pagination ones are added by the client).
    query: tuple[str, ...]
    #: Classic scopes, any of which grants access.
    scopes: tuple[str, ...]
    #: Granular (`:admin`) scopes, any of which grants access.
    granular_scopes: tuple[str, ...]
    rate_limit: RateLimitCategory
    #: Only the numeric ID is accepted (no instance UUID).
    numeric_id_only: bool = False

    @property
    def all_query(self) -> tuple[str, ...]:
        extra = (PAGE_SIZE_PARAM, PAGE_TOKEN_PARAM) if self.paginated else ()
        return (*self.query, *extra)

    def required_scopes(self) -> str:
        """For messages: what the Server-to-Server OAuth app must hold for this endpoint."""
        return f"{' or '.join(self.granular_scopes)} (classic: {' or '.join(self.scopes)})"


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """A GET ready to send: `path` is relative to the API base URL and already encoded."""

    endpoint: Endpoint
    path: str
    params: Mapping[str, str]


_WEBINAR_SCOPES = ("webinar:read:admin", "webinar:read")
_MEETING_SCOPES = ("meeting:read:admin", "meeting:read")

PAST_WEBINAR_PARTICIPANTS = Endpoint(
    name="past_webinar_participants",
    template="/past_webinars/{webinarId}/participants",
    id_param="webinarId",
    records_key="participants",
    paginated=True,
    query=(),
    scopes=_WEBINAR_SCOPES,
    granular_scopes=("webinar:read:list_past_participants:admin",),
    rate_limit=RateLimitCategory.MEDIUM,
)
PAST_WEBINAR_ABSENTEES = Endpoint(
    name="past_webinar_absentees",
    template="/past_webinars/{webinarId}/absentees",
    id_param="webinarId",
    records_key="registrants",
    paginated=True,
    query=("occurrence_id",),
    scopes=_WEBINAR_SCOPES,
    granular_scopes=("webinar:read:list_absentees:admin",),
    rate_limit=RateLimitCategory.HEAVY,
)
PAST_WEBINAR_QA = Endpoint(
    name="past_webinar_qa",
    template="/past_webinars/{webinarId}/qa",
    id_param="webinarId",
    records_key="questions",
    paginated=False,
    query=(),
    scopes=_WEBINAR_SCOPES,
    granular_scopes=("webinar:read:past_qa:admin",),
    rate_limit=RateLimitCategory.MEDIUM,
)
PAST_WEBINAR_POLLS = Endpoint(
    name="past_webinar_polls",
    template="/past_webinars/{webinarId}/polls",
    id_param="webinarId",
    records_key="questions",
    paginated=False,
    query=(),
    scopes=_WEBINAR_SCOPES,
    granular_scopes=("webinar:read:list_past_polls:admin",),
    rate_limit=RateLimitCategory.MEDIUM,
)
PAST_WEBINAR_INSTANCES = Endpoint(
    name="past_webinar_instances",
    template="/past_webinars/{webinarId}/instances",
    id_param="webinarId",
    records_key="webinars",
    paginated=False,
    query=(),
    scopes=_WEBINAR_SCOPES,
    granular_scopes=("webinar:read:list_past_instances:admin",),
    rate_limit=RateLimitCategory.LIGHT,
    numeric_id_only=True,
)
PAST_MEETING = Endpoint(
    name="past_meeting",
    template="/past_meetings/{meetingId}",
    id_param="meetingId",
    records_key=None,
    paginated=False,
    query=(),
    scopes=_MEETING_SCOPES,
    granular_scopes=("meeting:read:past_meeting:admin",),
    rate_limit=RateLimitCategory.LIGHT,
)
PAST_MEETING_PARTICIPANTS = Endpoint(
    name="past_meeting_participants",
    template="/past_meetings/{meetingId}/participants",
    id_param="meetingId",
    records_key="participants",
    paginated=True,
    query=(),
    scopes=_MEETING_SCOPES,
    granular_scopes=("meeting:read:list_past_participants:admin",),
    rate_limit=RateLimitCategory.MEDIUM,
)
PAST_MEETING_QA = Endpoint(
    name="past_meeting_qa",
    template="/past_meetings/{meetingId}/qa",
    id_param="meetingId",
    records_key="questions",
    paginated=False,
    query=(),
    scopes=_MEETING_SCOPES,
    granular_scopes=("meeting:read:past_qa:admin",),
    rate_limit=RateLimitCategory.MEDIUM,
)
PAST_MEETING_POLLS = Endpoint(
    name="past_meeting_polls",
    template="/past_meetings/{meetingId}/polls",
    id_param="meetingId",
    records_key="questions",
    paginated=False,
    query=(),
    scopes=_MEETING_SCOPES,
    granular_scopes=("meeting:read:list_poll_results:admin",),
    rate_limit=RateLimitCategory.MEDIUM,
)
PAST_MEETING_INSTANCES = Endpoint(
    name="past_meeting_instances",
    template="/past_meetings/{meetingId}/instances",
    id_param="meetingId",
    records_key="meetings",
    paginated=False,
    query=(),
    scopes=_MEETING_SCOPES,
    granular_scopes=("meeting:read:list_past_instances:admin",),
    rate_limit=RateLimitCategory.MEDIUM,
    numeric_id_only=True,
)

WEBINAR_REGISTRANTS = Endpoint(
    name="webinar_registrants",
    template="/webinars/{webinarId}/registrants",
    id_param="webinarId",
    records_key="registrants",
    paginated=True,
    query=("status", "occurrence_id"),
    scopes=_WEBINAR_SCOPES,
    granular_scopes=("webinar:read:list_registrants:admin",),
    rate_limit=RateLimitCategory.MEDIUM,
    numeric_id_only=True,
)
#: The statuses the registrants listing takes, one listing each (Zoom's default: approved).
REGISTRANT_STATUSES = ("approved", "pending", "denied")

_REPORT_SCOPES = ("report:read:admin",)
#: Ask the participant reports for `registrant_id` (Zoom leaves it out otherwise).
REPORT_INCLUDE_FIELDS = {"include_fields": "registrant_id"}

REPORT_WEBINAR = Endpoint(
    name="report_webinar",
    template="/report/webinars/{webinarId}",
    id_param="webinarId",
    records_key=None,
    paginated=False,
    query=(),
    scopes=_REPORT_SCOPES,
    granular_scopes=("report:read:webinar:admin",),
    rate_limit=RateLimitCategory.HEAVY,
)
REPORT_WEBINAR_PARTICIPANTS = Endpoint(
    name="report_webinar_participants",
    template="/report/webinars/{webinarId}/participants",
    id_param="webinarId",
    records_key="participants",
    paginated=True,
    query=("include_fields",),
    scopes=_REPORT_SCOPES,
    granular_scopes=("report:read:list_webinar_participants:admin",),
    rate_limit=RateLimitCategory.HEAVY,
)
REPORT_MEETING = Endpoint(
    name="report_meeting",
    template="/report/meetings/{meetingId}",
    id_param="meetingId",
    records_key=None,
    paginated=False,
    query=(),
    scopes=_REPORT_SCOPES,
    granular_scopes=("report:read:meeting:admin",),
    rate_limit=RateLimitCategory.HEAVY,
)
REPORT_MEETING_PARTICIPANTS = Endpoint(
    name="report_meeting_participants",
    template="/report/meetings/{meetingId}/participants",
    id_param="meetingId",
    records_key="participants",
    paginated=True,
    query=("include_fields",),
    scopes=_REPORT_SCOPES,
    granular_scopes=("report:read:list_meeting_participants:admin",),
    rate_limit=RateLimitCategory.HEAVY,
)

# Cloud recordings: one path for meetings and webinars (the spec: "To get a webinar's cloud
# recordings, provide the webinar's ID or UUID"). The 2023 spec's scopes are `recording:read` and
# `phone_recording:read:admin`, a Zoom Phone scope that grants no meeting recordings; Zoom's
# current reference lists `recording:read:admin` (the Server-to-Server level) and the granular
# `cloud_recording:read:list_recording_files:admin`.
MEETING_RECORDINGS = Endpoint(
    name="meeting_recordings",
    template="/meetings/{meetingId}/recordings",
    id_param="meetingId",
    records_key=None,
    paginated=False,
    query=("include_fields", "ttl"),
    scopes=("recording:read:admin", "recording:read"),
    granular_scopes=("cloud_recording:read:list_recording_files:admin",),
    rate_limit=RateLimitCategory.LIGHT,
)
#: Ask for a `download_access_token` valid as long as a webhook's `download_token` (24 h), so a
#: fetched recording's token and its `event_ts` (the fetch) age together.
RECORDING_TOKEN_QUERY = {"include_fields": "download_access_token", "ttl": str(24 * 60 * 60)}

ENDPOINTS: tuple[Endpoint, ...] = (
    PAST_WEBINAR_PARTICIPANTS,
    PAST_WEBINAR_ABSENTEES,
    PAST_WEBINAR_QA,
    PAST_WEBINAR_POLLS,
    PAST_WEBINAR_INSTANCES,
    PAST_MEETING,
    PAST_MEETING_PARTICIPANTS,
    PAST_MEETING_QA,
    PAST_MEETING_POLLS,
    PAST_MEETING_INSTANCES,
    WEBINAR_REGISTRANTS,
    REPORT_WEBINAR,
    REPORT_WEBINAR_PARTICIPANTS,
    REPORT_MEETING,
    REPORT_MEETING_PARTICIPANTS,
    MEETING_RECORDINGS,
)

# Write-side actions (service.actions); scopes and rate labels from the 2023-10 spec's
# webinarRegistrantStatus and meetingUpdate; granular scope names from developers.zoom.us (the
# 2023-10 spec predates them). Not in ENDPOINTS, which lists the GETs.
UPDATE_WEBINAR_REGISTRANT_STATUS = Endpoint(
    name="update_webinar_registrant_status",
    template="/webinars/{webinarId}/registrants/status",
    id_param="webinarId",
    records_key=None,
    paginated=False,
    query=("occurrence_id",),
    scopes=("webinar:write:admin", "webinar:write"),
    granular_scopes=("webinar:update:registrant_status:admin",),
    rate_limit=RateLimitCategory.MEDIUM,
    numeric_id_only=True,
)
UPDATE_MEETING = Endpoint(
    name="update_meeting",
    template="/meetings/{meetingId}",
    id_param="meetingId",
    records_key=None,
    paginated=False,
    query=("occurrence_id",),
    scopes=("meeting:write:admin", "meeting:write"),
    granular_scopes=("meeting:update:meeting:admin",),
    # LIGHT per the spec; Zoom also caps updates of one meeting at 100 a day.
    rate_limit=RateLimitCategory.LIGHT,
    numeric_id_only=True,
)
WRITE_ENDPOINTS: tuple[Endpoint, ...] = (UPDATE_WEBINAR_REGISTRANT_STATUS, UPDATE_MEETING)


def build_request(
    endpoint: Endpoint,
    resource_id: int | str,
    *,
    query: Mapping[str, str | int] | None = None,
    page_size: int | None = None,
    page_token: str | None = None,
) -> RequestSpec:
    """The encoded path and query string of one call; pure, raises `ValueError` on misuse."""
    if endpoint.numeric_id_only and not is_numeric_id(resource_id):
        raise ValueError(f"{endpoint.name} takes the numeric ID, not an instance UUID")
    params: dict[str, str] = {}
    for name, value in (query or {}).items():
        if name not in endpoint.query:
            raise ValueError(f"{endpoint.name} has no query parameter {name!r}")
        params[name] = str(value)
    if page_size is not None or page_token is not None:
        if not endpoint.paginated:
            raise ValueError(f"{endpoint.name} is not paginated")
        if page_size is not None:
            if not 1 <= page_size <= DEFAULT_PAGE_SIZE:
                raise ValueError(f"page_size must lie in 1..{DEFAULT_PAGE_SIZE}")
            params[PAGE_SIZE_PARAM] = str(page_size)
        if page_token:
            params[PAGE_TOKEN_PARAM] = page_token
    placeholder = "{" + endpoint.id_param + "}"
    path = endpoint.template.replace(placeholder, encode_path_id(resource_id))
    return RequestSpec(endpoint=endpoint, path=path, params=params)
