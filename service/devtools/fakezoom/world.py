"""The fake's world: past webinar and meeting instances, by UUID and by numeric ID, and the
cloud recordings of some of them.

Instances are added with `World.add_webinar` / `add_meeting`; their data (see `instance.py`) is
generated on demand, so the world is cheap whatever the sizes.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .instance import HOST_PERSON, Instance, Kind, zoom_time
from .people import digest, make_uuid, person, zoom_id
from .recordings import DEFAULT_FILE_TYPES, Recording, make_recording

__all__ = ["DEFAULT_START", "Instance", "Kind", "Recording", "World", "zoom_time"]

#: Start of the first instance of an ID when none is given; later ones follow weekly.
DEFAULT_START = datetime(2024, 3, 1, 14, 0, tzinfo=UTC)


class World:
    """Past webinar and meeting instances, by UUID and by numeric ID. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_uuid: dict[Kind, dict[str, Instance]] = {"webinar": {}, "meeting": {}}
        self._recordings: dict[str, Recording] = {}
        self._recorded_files: dict[str, int] = {}

    def add_webinar(
        self,
        webinar_id: int,
        uuid: str | None = None,
        participants: int = 0,
        absentees: int = 0,
        questions: int = 0,
        polls: int = 0,
        seed: int = 0,
        **options: Any,
    ) -> Instance:
        """Add an ended webinar instance. `options`: any other `Instance` field (e.g.
        `registration=False`, `too_old=True`, `start_time=...`, `rejoins=False`)."""
        options.setdefault("registration", True)
        return self._add(
            "webinar", webinar_id, uuid, participants, absentees, questions, polls, seed, options
        )

    def add_meeting(
        self,
        meeting_id: int,
        uuid: str | None = None,
        participants: int = 0,
        questions: int = 0,
        polls: int = 0,
        seed: int = 0,
        **options: Any,
    ) -> Instance:
        """Add an ended meeting instance; `options` as for `add_webinar`."""
        return self._add(
            "meeting", meeting_id, uuid, participants, 0, questions, polls, seed, options
        )

    def _add(
        self,
        kind: Kind,
        ident: int,
        uuid: str | None,
        participants: int,
        absentees: int,
        questions: int,
        polls: int,
        seed: int,
        options: dict[str, Any],
    ) -> Instance:
        if min(participants, absentees, questions, polls) < 0:
            raise ValueError("counts must be >= 0")
        with self._lock:
            earlier = [i for i in self._by_uuid[kind].values() if i.id == ident]
            uuid = uuid or make_uuid(digest(seed, kind, ident, len(earlier)))
            if uuid in self._by_uuid[kind]:
                raise ValueError(f"{kind} instance {uuid!r} already exists")
            host = person(seed, HOST_PERSON)
            options.setdefault("start_time", DEFAULT_START + timedelta(days=7 * len(earlier)))
            options.setdefault("topic", f"{kind.capitalize()} {ident} — Ünïcode 🎙")
            options.setdefault(
                "host",
                {"id": zoom_id(seed, "host"), "email": "host@example.com", "name": host.name},
            )
            inst = Instance(
                kind, ident, uuid, seed, participants, absentees, questions, polls, **options
            )
            self._by_uuid[kind][uuid] = inst
        return inst

    def instances(self, kind: Kind, ident: int | None = None) -> list[Instance]:
        """Instances of `kind` (of one numeric ID if given), oldest first."""
        with self._lock:
            found = [i for i in self._by_uuid[kind].values() if ident is None or i.id == ident]
        return sorted(found, key=lambda i: i.start_time)

    def get(self, kind: Kind, uuid: str) -> Instance | None:
        with self._lock:
            return self._by_uuid[kind].get(uuid)

    def lookup(self, kind: Kind, ident: str) -> Instance | None:
        """What Zoom resolves a path ID to: a numeric ID means its latest instance."""
        if ident.isascii() and ident.isdigit():
            found = self.instances(kind, int(ident))
            return found[-1] if found else None
        return self.get(kind, ident)

    def add_recording(
        self,
        inst: Instance,
        file_types: Sequence[str] = DEFAULT_FILE_TYPES,
        *,
        participant_audio: int = 0,
        sizes: Mapping[str, int] | None = None,
    ) -> Recording:
        """Give `inst` a cloud recording (see `recordings.make_recording`); its files become
        downloadable from the fake."""
        if self.get(inst.kind, inst.uuid) is not inst:
            raise ValueError(f"{inst.kind} instance {inst.uuid!r} is not in this world")
        made = make_recording(inst, file_types, participant_audio=participant_audio, sizes=sizes)
        with self._lock:
            if inst.uuid in self._recordings:
                raise ValueError(f"instance {inst.uuid!r} already has a recording")
            self._recordings[inst.uuid] = made
            self._recorded_files.update((f.key, f.size) for f in made.files)
        return made

    def recording(self, uuid: str) -> Recording | None:
        with self._lock:
            return self._recordings.get(uuid)

    def recorded_file_size(self, key: str) -> int | None:
        """The size of a recording file of the world, by its download key; None if unknown."""
        with self._lock:
            return self._recorded_files.get(key)

    def lookup_any(self, ident: str) -> Instance | None:
        """A meeting's or a webinar's instance: the recordings endpoint takes either."""
        return self.lookup("meeting", ident) or self.lookup("webinar", ident)

    def webinar(self, uuid: str) -> Instance:
        inst = self.get("webinar", uuid)
        if inst is None:
            raise KeyError(uuid)
        return inst

    def meeting(self, uuid: str) -> Instance:
        inst = self.get("meeting", uuid)
        if inst is None:
            raise KeyError(uuid)
        return inst

    def clear(self) -> None:
        with self._lock:
            for table in self._by_uuid.values():
                table.clear()
            self._recordings.clear()
            self._recorded_files.clear()
