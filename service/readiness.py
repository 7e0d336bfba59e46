"""What `/readyz` answers for `serve` and `web`: can this process store, enqueue and verify?

Each named check raises when its dependency is not usable. The verdict is pure: it runs the
checks and shapes the answer, and the ops port serves it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

#: A named check; it raises when its dependency is not usable.
Check = Callable[[], None]


class NotReady(Exception):
    """A check's own verdict; its message is shown. Other errors show only their type, since
    a driver's message may carry host names or worse."""


class Readiness:
    """`advisory` checks are reported but do not make the process unready."""

    def __init__(self, checks: Mapping[str, Check], *, advisory: Collection[str] = ()) -> None:
        self.checks = dict(checks)
        self.advisory = frozenset(advisory)

    def __call__(self) -> tuple[bool, dict[str, object]]:
        results: dict[str, str] = {}
        for name, check in self.checks.items():
            try:
                check()
                results[name] = "ok"
            except NotReady as exc:
                results[name] = f"unavailable: {exc}"
            except Exception as exc:
                results[name] = f"unavailable: {type(exc).__name__}"
        ready = all(v == "ok" for name, v in results.items() if name not in self.advisory)
        degraded = ready and any(value != "ok" for value in results.values())
        status = "degraded" if degraded else "ready" if ready else "unavailable"
        return ready, {"status": status, "checks": results}
