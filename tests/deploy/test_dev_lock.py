"""requirements-dev.lock, which scripts/bootstrap installs, covers what pyproject.toml asks for."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements-dev.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[canonicalize_name(match[1])] = match[2]
    return found


def wanted() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(r) for r in reqs]


def test_every_dependency_is_pinned_within_its_range() -> None:
    locked = pins()
    stale = [
        str(req)
        for req in wanted()
        if (req.marker is None or req.marker.evaluate())
        and (
            canonicalize_name(req.name) not in locked
            or not req.specifier.contains(locked[canonicalize_name(req.name)], prereleases=True)
        )
    ]
    assert not stale, f"requirements-dev.lock is stale for {stale}: run scripts/lock"


def test_every_pin_is_hashed() -> None:
    text = LOCK.read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    unhashed = [b.split()[0] for b in blocks if PIN.match(b) and "--hash=sha256:" not in b]
    assert not unhashed
    assert "scripts/lock" in text.splitlines()[1]


def test_bootstrap_installs_from_the_lock() -> None:
    script = (ROOT / "scripts" / "bootstrap").read_text()
    assert "--require-hashes" in script and "requirements-dev.lock" in script
