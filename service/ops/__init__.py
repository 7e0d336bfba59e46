"""Day-to-day operations from the command line: look at the inbox and the follow-up jobs,
replay and retry them, and see whether the service keeps up.

`service.cli` registers `COMMANDS` on its `main` group: `events` (list, show), `replay`,
`followups` (list, retry), `actions` (list, run), `stats`, `instances` (show), `backfill`,
`reconcile`, `purge`
and `erase`.
"""

from __future__ import annotations

import click

from service.ops.commands.actions import actions
from service.ops.commands.backfill import backfill, reconcile
from service.ops.commands.events import events
from service.ops.commands.followups import followups
from service.ops.commands.instances import instances_group
from service.ops.commands.recordings import recordings
from service.ops.commands.replay import replay
from service.ops.commands.retention import erase, purge
from service.ops.commands.stats import stats

COMMANDS: tuple[click.Command, ...] = (
    events,
    replay,
    followups,
    actions,
    recordings,
    stats,
    instances_group,
    backfill,
    reconcile,
    purge,
    erase,
)

__all__ = [
    "COMMANDS",
    "actions",
    "backfill",
    "erase",
    "events",
    "followups",
    "instances_group",
    "purge",
    "reconcile",
    "recordings",
    "replay",
    "stats",
]
