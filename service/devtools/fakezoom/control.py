"""The control API under `/_fake`, for tests whose fake runs in another process.

| Method and path | Does |
|---|---|
| `GET /_fake/health` | `{"ok": true}` |
| `GET /_fake/faults` | `{"faults": [...]}` with `seen`/`fired` counters |
| `POST /_fake/faults` | add one fault (JSON object) or several (array): `Fault.to_json()` shape |
| `DELETE /_fake/faults`, `DELETE /_fake/faults/{id}` | remove all faults, or one |
| `GET /_fake/requests[?operation_id=...][&account_id=...]` | `{"requests": [...]}`: the log |
| `GET /_fake/rates[?window=1&category=&account_id=&operation_id=]` | `{"peak": n,
  "per_window": {"<floor(at / window)>": n}}`: `RequestLog.peak` and `per_window` |
| `GET /_fake/stats` | `{"tokens_issued", "calls": {operationId: n}, "page_tokens"}` |
| `POST /_fake/reset` | forget requests, faults, access and page tokens |
| `POST /_fake/tokens/expire` | expire every access token now |
| `POST /_fake/page_tokens/expire` | invalidate every `next_page_token` |
| `POST /_fake/ws/{subscription}/events` | send events (a webhook body, or an array of them)
  to the subscription's socket: `{"delivered": n, "missed": n}` |
| `POST /_fake/ws/{subscription}/disconnect` | close its socket from the server side |
| `POST /_fake/ws/{subscription}/heartbeats` | `{"answer": false}` stops answering its
  heartbeats (a dead connection), `true` resumes |
| `GET /_fake/ws` | `{"subscriptions": {id: {"connections", "open", "heartbeats", ...}}}` |
| `GET /_fake/world` | the instances, `{"webinars": [...], "meetings": [...]}` |
| `POST /_fake/world/webinars`, `POST /_fake/world/meetings` | add an instance: the JSON
  object holds `World.add_webinar`/`add_meeting` arguments (`webinar_id` or `meeting_id`, ...),
  and `"recording": true` (or a list of file types) for a cloud recording |

Control requests need no token, are not spec-checked, logged or subject to faults.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .faults import Fault
from .recordings import DEFAULT_FILE_TYPES, FILE_KINDS
from .world import Instance, zoom_time

if TYPE_CHECKING:
    from .app import FakeZoom


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status, media_type="application/json")


def _bad(message: str) -> Response:
    return _json({"error": message}, 400)


def instance_summary(inst: Instance) -> dict[str, Any]:
    return {
        "kind": inst.kind,
        "id": inst.id,
        "uuid": inst.uuid,
        "start_time": zoom_time(inst.start_time),
        "participants": inst.participants,
        "persons": inst.persons,
        "absentees": inst.absentees,
        "questions": inst.questions,
        "polls": inst.polls,
        "registration": inst.registration,
        "too_old": inst.too_old,
    }


def _recording_summary(fake: FakeZoom, inst: Instance) -> dict[str, Any]:
    found = fake.world.recording(inst.uuid)
    return {"recording_files": [f.file_type for f in found.files] if found else []}


def control_routes(fake: FakeZoom) -> list[BaseRoute]:
    async def health(request: Request) -> Response:
        return _json({"ok": True})

    async def list_faults(request: Request) -> Response:
        return _json({"faults": [f.to_json() for f in fake.faults.all()]})

    async def add_faults(request: Request) -> Response:
        try:
            payload = await request.json()
            items = payload if isinstance(payload, list) else [payload]
            faults = [Fault.from_json(item) for item in items]
        except (ValueError, TypeError) as exc:
            return _bad(f"bad fault: {exc}")
        added = [fake.faults.add(f).to_json() for f in faults]
        return _json({"faults": added}, 201)

    async def clear_faults(request: Request) -> Response:
        fake.faults.clear()
        return Response(status_code=204)

    async def remove_fault(request: Request) -> Response:
        removed = fake.faults.remove(request.path_params["fault_id"])
        return Response(status_code=204 if removed else 404)

    async def requests(request: Request) -> Response:
        query = request.query_params
        records = fake.log.records(query.get("operation_id"), account_id=query.get("account_id"))
        return _json({"requests": [r.to_json() for r in records]})

    async def rates(request: Request) -> Response:
        query = request.query_params
        filters = {k: query.get(k) for k in ("category", "account_id", "operation_id")}
        try:
            window = float(query.get("window", "1"))
            peak = fake.log.peak(window, **filters)
        except ValueError as exc:
            return _bad(f"bad window: {exc}")
        per_window = fake.log.per_window(window, **filters)
        return _json({"peak": peak, "per_window": {str(k): n for k, n in per_window.items()}})

    async def stats(request: Request) -> Response:
        body = {
            "tokens_issued": fake.tokens_issued,
            "calls": fake.log.counts(),
            "page_tokens": len(fake.page_tokens),
        }
        return _json(body)

    async def reset(request: Request) -> Response:
        fake.reset()
        return Response(status_code=204)

    async def expire_tokens(request: Request) -> Response:
        fake.access_tokens.expire_all()
        return Response(status_code=204)

    async def expire_page_tokens(request: Request) -> Response:
        fake.page_tokens.expire_all()
        return Response(status_code=204)

    async def world(request: Request) -> Response:
        return _json(
            {
                "webinars": [instance_summary(i) for i in fake.world.instances("webinar")],
                "meetings": [instance_summary(i) for i in fake.world.instances("meeting")],
            }
        )

    async def add_instance(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in ("webinars", "meetings"):
            return _json({"error": f"no such collection: {kind}"}, 404)
        try:
            args = dict(await request.json())
            if "start_time" in args:
                args["start_time"] = datetime.fromisoformat(
                    args["start_time"].replace("Z", "+00:00")
                )
            # `"recording": true` or a list of file types: the instance has a cloud recording.
            recording = args.pop("recording", None)
            types = DEFAULT_FILE_TYPES if recording is True else tuple(recording or ())
            unknown = sorted(set(types) - set(FILE_KINDS))
            if unknown:  # refused before the instance is added
                raise ValueError(f"unknown recording file types {unknown}")
            if kind == "webinars":
                inst = fake.world.add_webinar(**args)
            else:
                inst = fake.world.add_meeting(**args)
            if types:
                fake.world.add_recording(inst, types)
        except (ValueError, TypeError, AttributeError) as exc:
            return _bad(f"bad instance: {exc}")
        return _json(instance_summary(inst) | _recording_summary(fake, inst), 201)

    async def ws_events(request: Request) -> Response:
        subscription = request.path_params["subscription"]
        try:
            payload = await request.json()
        except ValueError:
            return _bad("the body must be a webhook body (JSON object) or an array of them")
        bodies = payload if isinstance(payload, list) else [payload]
        if not all(isinstance(body, dict) for body in bodies):
            return _bad("each event must be a JSON object")
        sent = [await fake.sockets.deliver(subscription, body) for body in bodies]
        return _json({"delivered": sum(sent), "missed": len(sent) - sum(sent)})

    async def ws_disconnect(request: Request) -> Response:
        closed = await fake.sockets.close(request.path_params["subscription"])
        return _json({"closed": closed})

    async def ws_heartbeats(request: Request) -> Response:
        try:
            answer = (await request.json())["answer"]
        except (ValueError, KeyError, TypeError):
            return _bad('give {"answer": true|false}')
        fake.sockets.mute(request.path_params["subscription"], not bool(answer))
        return Response(status_code=204)

    async def ws_stats(request: Request) -> Response:
        found = fake.sockets.all_stats()
        return _json({"subscriptions": {name: asdict(stats) for name, stats in found.items()}})

    return [
        Route("/ws", ws_stats, methods=["GET"]),
        Route("/ws/{subscription}/events", ws_events, methods=["POST"]),
        Route("/ws/{subscription}/disconnect", ws_disconnect, methods=["POST"]),
        Route("/ws/{subscription}/heartbeats", ws_heartbeats, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/faults", list_faults, methods=["GET"]),
        Route("/faults", add_faults, methods=["POST"]),
        Route("/faults", clear_faults, methods=["DELETE"]),
        Route("/faults/{fault_id:int}", remove_fault, methods=["DELETE"]),
        Route("/requests", requests, methods=["GET"]),
        Route("/rates", rates, methods=["GET"]),
        Route("/stats", stats, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/tokens/expire", expire_tokens, methods=["POST"]),
        Route("/page_tokens/expire", expire_page_tokens, methods=["POST"]),
        Route("/world", world, methods=["GET"]),
        Route("/world/{kind:str}", add_instance, methods=["POST"]),
    ]
