"""The install guide (deploy/README.md) cannot rot: its shell blocks run in order here.

Each ```sh block of the guide is preceded by a tag, ``<!-- test: ... -->``:

- ``run``: executed with bash (``-euo pipefail``) in a temporary tree standing for the
  machine: ``/opt/papi-node``, ``/var/lib/papi``, ``/var/backups/papi``, ``/etc/papi``,
  ``/usr/local/bin`` live under it, ``sudo`` and ``sudo -u papi`` are dropped (we are one
  user), ``-o papi -g papi`` and ``chgrp papi`` use our own user, the repository URL is
  this checkout (``git clone`` takes its committed HEAD), the public URLs and port 8000
  are the test node's and its neighbour's.
  The operator's ``papi`` wrapper is told where the tree is (``PAPI_BIN``,
  ``PAPI_DATA_DIR``, ``PAPI_USER``: its defaults are the real paths);
- ``serve`` / ``stop``: the test starts the ``ExecStart`` of deploy/papi-node.service
  (with the unit's ``Environment`` and ``UMask``) or stops it, where the guide runs
  ``systemctl``;
- ``backup-unit``: the test runs papi-backup.service's ``ExecStart`` with its
  ``Environment``, where the guide starts the unit;
- ``skip: reason``: not executable here (apt, useradd, systemctl, certificates, Docker).
  What those blocks install is checked instead: ``systemd-analyze verify`` on the units,
  ``caddy validate`` on both blocks of the Caddyfile, ``nginx -t`` on the nginx site (with
  a throwaway certificate), ``shellcheck`` on the scripts, where those tools exist.
"""

from __future__ import annotations

import datetime
import getpass
import grp
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, NodeFactory, free_port_block, wait_until

GUIDE = ROOT / "deploy" / "README.md"
DEPLOY = ROOT / "deploy"
TAGGED_BLOCK = re.compile(r"<!-- test: (?P<tag>[^>]*?) -->\n```sh\n(?P<body>.*?)```", re.S)
TAGS = ("run", "serve", "stop", "backup-unit", "skip")


@dataclass
class Block:
    tag: str
    note: str
    body: str


def guide_blocks() -> list[Block]:
    blocks = []
    for match in TAGGED_BLOCK.finditer(GUIDE.read_text()):
        tag, _, note = match["tag"].partition(" ")
        blocks.append(Block(tag.rstrip(":"), note.strip(), match["body"]))
    return blocks


def test_every_shell_block_says_how_it_is_tested() -> None:
    text = GUIDE.read_text()
    blocks = guide_blocks()
    assert len(blocks) == text.count("```sh\n"), "a ```sh block of the guide has no test tag"
    for block in blocks:
        assert block.tag in TAGS, block.tag
        if block.tag == "skip":
            assert block.note, f"a skipped block must say why: {block.body}"
    assert [b.tag for b in blocks].count("run") >= 8


# -- the units, the proxies, the scripts -------------------------------------------------


def unit_settings(path: Path) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def unit_environment(path: Path, translate: dict[str, str]) -> dict[str, str]:
    environment = {}
    for assignment in unit_settings(path).get("Environment", []):
        name, _, value = assignment.partition("=")
        environment[name] = substitute(value, translate)
    return environment


def substitute(text: str, translate: dict[str, str]) -> str:
    for old, new in translate.items():
        text = text.replace(old, new)
    return text


def test_systemd_units_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    papi = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "papi"
    if not papi.exists():
        papi = Path(shutil.which("papi") or "/nonexistent")
    translate = {"/opt/papi-node/.venv/bin/papi": str(papi), "/opt/papi-node": str(ROOT)}
    names = ["papi-node.service", "papi-backup.service", "papi-backup.timer"]
    for name in names:
        (tmp_path / name).write_text(substitute((DEPLOY / name).read_text(), translate))
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / name) for name in names)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result.stderr
    service = unit_settings(DEPLOY / "papi-node.service")
    assert service["Restart"] == ["on-failure"] and service["User"] == ["papi"]
    assert service["MemoryMax"] == ["256M"]


def test_caddyfile_both_blocks_are_valid(tmp_path: Path) -> None:
    if shutil.which("caddy") is None:
        pytest.skip("caddy is not installed (apt-get install caddy)")
    text = (DEPLOY / "Caddyfile").read_text()
    _, _, block_b = text.partition("# B. Without a domain")
    lan_only = "\n".join(line.removeprefix("#") for line in block_b.splitlines()[2:])
    for name, content in (("a", text), ("b", lan_only)):
        path = tmp_path / f"Caddyfile.{name}"
        path.write_text(content)
        result = subprocess.run(
            ["caddy", "validate", "--config", str(path), "--adapter", "caddyfile"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0 and "Valid configuration" in result.stdout + result.stderr
    assert "reverse_proxy 127.0.0.1:8000" in lan_only and ":80 {" in lan_only


def _throwaway_certificate(directory: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "papi.exemple.fr")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (directory / "fullchain.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def test_nginx_site_is_valid(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    _throwaway_certificate(tmp_path)
    site = (DEPLOY / "nginx-papi.conf").read_text()
    (tmp_path / "site.conf").write_text(
        site.replace("/etc/letsencrypt/live/papi.exemple.fr", str(tmp_path))
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/site.conf;\n}}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", f"{tmp_path}/"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_shell_scripts_pass_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    scripts = [DEPLOY / "backup.sh", DEPLOY / "papi", *sorted((DEPLOY / "docker").glob("*.sh"))]
    result = subprocess.run(
        ["shellcheck", *map(str, scripts)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


# -- the guide, run --------------------------------------------------------------------


class Machine:
    """The temporary tree standing for the Raspberry Pi, and the node the units start."""

    def __init__(self, base: Path, neighbour_url: str) -> None:
        self.root = base / "root"
        self.home = base / "home"
        self.port = free_port_block(1)
        self.url = f"http://127.0.0.1:{self.port}"
        for directory in (self.root / "usr" / "local" / "bin", self.home):
            directory.mkdir(parents=True)
        user, group = getpass.getuser(), grp.getgrgid(os.getgid()).gr_name
        self.translate = {
            "sudo -u papi ": "",
            "sudo ": "",
            "-o papi -g papi ": f"-o {user} -g {group} ",
            "chgrp papi ": f"chgrp {group} ",
            "https://git.exemple.fr/papi/papi-node.git": str(ROOT),
            "https://papi.exemple.fr": self.url,
            "https://noeud-voisin.exemple.fr": neighbour_url,
            "127.0.0.1:8000": f"127.0.0.1:{self.port}",
        }
        for path in ("/opt/papi-node", "/var/lib/papi", "/var/backups/papi", "/etc/papi",
                     "/etc/systemd/system", "/usr/local/bin"):  # fmt: skip
            self.translate[path] = f"{self.root}{path}"
        self.env = {
            **os.environ,
            "PATH": f"{self.root}/usr/local/bin:{os.environ['PATH']}",
            "HOME": str(self.home),
            "PAPI_USER": user,
            "PAPI_BIN": f"{self.root}/opt/papi-node/.venv/bin/papi",
            "PAPI_DATA_DIR": f"{self.root}/var/lib/papi",
            "PAPI_PASSWORD": "un mot de passe pour le test",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
        self.env.pop("VIRTUAL_ENV", None)
        self.server: subprocess.Popen[bytes] | None = None
        self.log = base / "serve.log"

    def run(self, script: str) -> str:
        script = substitute(script, self.translate)
        newest = sorted((self.root / "var/backups/papi").glob("papi-backup-*.tar.gz.enc"))
        if newest:
            script = script.replace("papi-backup-AAAAMMJJ-HHMMSS.tar.gz.enc", newest[-1].name)
        script = script.replace("papi restore ", "papi restore --yes ")
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True, text=True, env=self.env, cwd=self.home, timeout=900,
            check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    def run_unit(self, name: str, *, background: bool) -> None:
        unit = DEPLOY / name
        command = shlex.split(substitute(unit_settings(unit)["ExecStart"][0], self.translate))
        umask = unit_settings(unit).get("UMask", ["0022"])[0]
        env = {**self.env, **unit_environment(unit, self.translate), "PAPI_PORT": str(self.port)}
        wrapped = ["sh", "-c", f'umask {umask}; exec "$@"', "unit", *command]
        if not background:
            done = subprocess.run(wrapped, capture_output=True, text=True, env=env, timeout=300)
            assert done.returncode == 0, done.stderr
            return
        with self.log.open("ab") as log:
            self.server = subprocess.Popen(wrapped, stdout=log, stderr=subprocess.STDOUT, env=env)

        def answers() -> bool:
            assert self.server is not None and self.server.poll() is None, self.log.read_text()
            try:
                return httpx.get(self.url + "/api/v1/node", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, timeout=60)

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            self.server.wait(timeout=30)
        self.server = None


@pytest.fixture
def machine(tmp_path: Path, node_factory: NodeFactory) -> Iterator[Machine]:
    neighbour = node_factory("Médiathèque de Plougastel", commune="Plougastel-Daoulas")
    pi = Machine(tmp_path, neighbour.url)
    try:
        yield pi
    finally:
        pi.stop()


@pytest.mark.e2e
def test_the_guide_installs_a_node_that_joins_the_network(machine: Machine) -> None:
    outputs: dict[str, str] = {}
    for block in guide_blocks():
        if block.tag == "run":
            outputs[block.body] = machine.run(block.body)
        elif block.tag == "serve":
            machine.run_unit("papi-node.service", background=True)
        elif block.tag == "stop":
            machine.stop()
        elif block.tag == "backup-unit":
            machine.run_unit("papi-backup.service", background=False)
    everything = "\n".join(outputs.values())
    node = httpx.get(machine.url + "/api/v1/node", timeout=10).json()
    assert node["name"] == "EPN de Bellevue"
    [curl] = [output for body, output in outputs.items() if body.startswith("curl ")]
    assert json.loads(curl)["id"] == node["id"]
    assert "animatrice@exemple.fr (administrateur) peut maintenant se connecter" in everything
    data = machine.root / "var/lib/papi"
    assert {p.name for p in data.iterdir()} >= {"node.key", "papi.toml", "papi.sqlite3"}
    assert all(p.stat().st_mode & 0o077 == 0 for p in [data, *data.iterdir()])
    backups = sorted((machine.root / "var/backups/papi").iterdir())
    sealed = [p for p in backups if p.name.endswith(".tar.gz.enc")]
    assert sealed and sealed[0].read_bytes().startswith(b"PAPISEAL")
    assert any(p.name.startswith("avant-mise-a-jour-") for p in backups)
    # The last 'papi doctor' of the guide (after the restore and a sync) found nothing.
    assert "Nœud " + node["id"] + " restauré" in everything
    assert everything.count("Aucun problème trouvé.") == 1
    peers = httpx.get(machine.url + "/api/v1/nodes", timeout=10).json()["origins"]
    assert len(peers) == 2  # this node and its neighbour, synced
