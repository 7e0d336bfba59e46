"""What ships: the deploy files lint clean, and the image's install gives a working zoomhooks.

No Docker engine runs here, so the image is proven in two halves. The Dockerfile's builder stage
runs `deploy/image/install` (wheel, fresh venv, hash-locked dependencies, `pip check`); this test
runs the same script outside Docker, then uses only that venv, from an empty directory, with no
checkout on sys.path: the wheel must carry everything, the Alembic migrations included.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from service.storage.migrate import alembic_config

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
INSTALL = ROOT / "deploy" / "image" / "install"
#: Settings that would leak from the developer's environment into the installed command.
APP_VARIABLES = re.compile(r"^(ZOOM_|ZOOMHOOKS_|DATABASE_URL$|BROKER_URL$|PYTHON|VIRTUAL_ENV$)")


def outside_env(**extra: str) -> dict[str, str]:
    """This environment without anything that points Python or zoomhooks somewhere else."""
    env = {k: v for k, v in os.environ.items() if not APP_VARIABLES.match(k)}
    return {**env, **extra}


def tail(result: subprocess.CompletedProcess[str], lines: int = 25) -> str:
    """The end of a command's output, for an assertion message (pip's config noise dropped)."""
    out = (result.stdout + result.stderr).splitlines()
    return "\n".join([line for line in out if "is ignored: it is neither" not in line][-lines:])


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            pairs.append((instruction.upper(), args.strip()))
    return pairs


def test_the_dockerfile_installs_with_the_script_this_test_runs() -> None:
    instructions = dockerfile_instructions()
    runs = [args for name, args in instructions if name == "RUN"]
    assert any(re.fullmatch(r"sh deploy/image/install /src /opt/zoomhooks \S+", r) for r in runs)
    froms = [args for name, args in instructions if name == "FROM"]
    assert len(froms) == 2, "multi-stage: a builder and a runtime stage"
    args = dict(a.split("=", 1) for name, a in instructions if name == "ARG" and "=" in a)
    pinned = r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?"
    assert re.fullmatch(pinned, args["PYTHON_IMAGE"]), "an exact patch release of Python"
    last = dict(instructions)  # the last of each instruction is the one that counts
    assert last["USER"] == "10001:10001"
    assert last["ENTRYPOINT"] == '["zoomhooks"]'
    assert last["CMD"] == '["web", "--host", "0.0.0.0", "--port", "8000"]'
    assert "/healthz" in last["HEALTHCHECK"]


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    allowed = [
        line.removeprefix("!").rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    ]
    for name, args in dockerfile_instructions():
        if name != "COPY" or args.startswith("--from"):
            continue
        *sources, _target = args.split()
        for source in sources:
            path = source.rstrip("/")
            assert (ROOT / path).exists(), source
            assert any(path == a or path.startswith(a + "/") for a in allowed), (
                f"{source} is copied but .dockerignore keeps it out of the build context"
            )


@pytest.mark.slow
def test_lint_deploy_passes() -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / "lint-deploy")],
        cwd=ROOT,
        env=outside_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, tail(result, 60)
    assert "lint-deploy: all checks passed" in result.stdout


@pytest.mark.slow
def test_the_installed_wheel_migrates_on_its_own(tmp_path: Path) -> None:
    venv, wheels, cwd = tmp_path / "venv", tmp_path / "wheels", tmp_path / "run"
    cwd.mkdir()
    install = subprocess.run(
        ["sh", str(INSTALL), str(ROOT), str(venv), str(wheels)],
        cwd=tmp_path,
        env=outside_env(PYTHON=sys.executable),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # "requires X, which is not installed" (pip check): run deploy/image/lock.
    assert install.returncode == 0, tail(install)

    # The wheel carries the migrations, every one of them.
    (wheel,) = wheels.glob("zoomhooks-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.rsplit("/", 1)[1] for n in names if n.startswith("service/_migrations/versions/")}
    in_checkout = {p.name for p in (ROOT / "migrations" / "versions").glob("*.py")}
    assert "service/_migrations/env.py" in names
    assert shipped == in_checkout
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]

    def zoomhooks(*args: str) -> subprocess.CompletedProcess[str]:
        # Only what a container would have: no PYTHONPATH, no checkout, an empty working dir.
        env = {
            "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin",
            "HOME": str(tmp_path),
            "LANG": "C.UTF-8",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'zoomhooks.sqlite3'}",
        }
        return subprocess.run(
            [str(venv / "bin" / "zoomhooks"), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert "migrate" in zoomhooks("--help").stdout

    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-I",
            "-c",
            "import service, service.storage.migrate as m; "
            "print(service.__file__); print(m.script_location())",
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where
    assert where[1].endswith("_migrations")

    first = zoomhooks("migrate")
    assert first.returncode == 0, tail(first)
    assert "newest revision" in first.stdout
    again = zoomhooks("migrate")
    assert again.returncode == 0, tail(again)

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with sqlite3.connect(tmp_path / "db" / "zoomhooks.sqlite3") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        (version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    assert {"webhook_events", "followups", "participants", "zoom_tokens"} <= tables
    assert version == head
    assert not list(cwd.iterdir()), "the command wrote into its working directory"
