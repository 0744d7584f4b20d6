"""The Docker image builds, runs as a non-root user, and the 3-node compose demo syncs
(Brest -> Plougastel -> Landerneau, relayed). Skipped, with the reason, on a machine
without a Docker engine; the compose files are still checked by ``docker compose
config`` wherever the compose plugin exists (it needs no engine)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port_block, wait_until

pytestmark = pytest.mark.e2e

DOCKER_DIR = ROOT / "deploy" / "docker"
IMAGE = "papi-node:test"


def _run(
    *args: str, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def _compose_command() -> list[str] | None:
    if shutil.which("docker") and _run("docker", "compose", "version").returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.fixture(scope="module")
def engine() -> None:
    if shutil.which("docker") is None:
        pytest.skip("no docker command on this machine: the image and the demo are not tested")
    info = _run("docker", "info", timeout=60)
    if info.returncode != 0:
        pytest.skip(
            "no Docker engine reachable ('docker info' failed: "
            f"{info.stderr.strip().splitlines()[-1] if info.stderr.strip() else '?'}): "
            "the image and the 3-node demo are not tested here"
        )


@pytest.mark.parametrize("name", ["compose.yaml", "compose.demo.yaml"])
def test_compose_files_are_valid(name: str) -> None:
    compose = _compose_command()
    if compose is None:
        pytest.skip("neither 'docker compose' nor 'docker-compose' is installed")
    result = _run(*compose, "-f", str(DOCKER_DIR / name), "config", "--quiet", timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def image(engine: None) -> str:
    built = _run(
        "docker", "build", "-f", str(DOCKER_DIR / "Dockerfile"), "-t", IMAGE, ".", timeout=1800
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return IMAGE


def test_image_runs_as_an_unprivileged_user(image: str) -> None:
    result = _run("docker", "run", "--rm", "--entrypoint", "id", image, "-u")
    assert result.returncode == 0 and result.stdout.strip() not in ("", "0"), result.stdout
    help_text = _run("docker", "run", "--rm", image, "papi", "--help")
    assert help_text.returncode == 0 and "doctor" in help_text.stdout


@pytest.fixture
def demo(image: str) -> Iterator[tuple[list[str], list[str]]]:
    compose = _compose_command()
    if compose is None:
        pytest.skip("the docker compose plugin is missing")
    project = f"papitest{secrets.token_hex(4)}"
    base = free_port_block(3)
    env = {f"PAPI_DEMO_PORT{n}": str(base + n - 1) for n in (1, 2, 3)}
    command = [*compose, "-p", project, "-f", str(DOCKER_DIR / "compose.demo.yaml")]
    try:
        # The image of the module fixture, tagged as the compose file names it.
        assert _run("docker", "tag", image, "papi-node:latest").returncode == 0
        up = _run(*command, "up", "-d", "--wait", timeout=600, env=env)
        assert up.returncode == 0, up.stderr[-3000:]
        yield command, [f"http://127.0.0.1:{base + n}" for n in range(3)]
    finally:
        _run(*command, "down", "-v", "--remove-orphans", timeout=300, env=env)


def test_three_node_demo_syncs_through_the_chain(demo: tuple[list[str], list[str]]) -> None:
    command, (brest, _, landerneau) = demo
    token = _run(*command, "exec", "-T", "brest", "papi", "token", "create")
    assert token.returncode == 0, token.stderr
    bearer = token.stdout.strip().splitlines()[-1]
    created = httpx.post(
        brest + "/api/v1/skills",
        json={"title": "Retouche photo"},
        headers={"authorization": f"Bearer {bearer}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text

    def found() -> bool:
        answer = httpx.get(landerneau + "/api/v1/search", params={"q": "retouche"}, timeout=10)
        return len(answer.json()["results"]) == 1

    wait_until(found, timeout=120)
    backup = _run(*command, "exec", "-T", "brest", "papi-backup", "/data", "/tmp", "1")
    assert backup.returncode == 0 and "written to /tmp/papi-backup-" in backup.stdout
    doctor = _run(*command, "exec", "-T", "brest", "papi", "doctor")
    assert "Base /data/papi.sqlite3 intègre" in doctor.stdout, doctor.stdout


def test_docker_files_are_in_place() -> None:
    # Where the guide says they are; the entrypoint must stay executable (COPY keeps modes).
    for name in ("Dockerfile", "compose.yaml", "compose.demo.yaml", "entrypoint.sh"):
        assert (DOCKER_DIR / name).is_file(), name
    assert (ROOT / ".dockerignore").is_file()
    assert Path(DOCKER_DIR / "entrypoint.sh").stat().st_mode & 0o111
