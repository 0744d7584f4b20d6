"""Libraries that only some requests need are imported by the first of those requests,
not when the node starts: each costs resident memory (``idle_rss_mb``,
docs/performance.md 10.3), whether it is ever used or not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Feeds, calendars, thumbnails, Markdown, hours, schema checks; dates in words (babel);
#: the web pages' templates;
#: requests to peers (a node without peers sends none); key files in other forms than
#: the node's own, and backup encryption.
ON_DEMAND = [
    "feedgen",
    "lxml",
    "icalendar",
    "PIL",
    "markdown_it",
    "nh3",
    "opening_hours",
    "babel",
    "jinja2",
    "httpx",
    "cryptography",
]

PROBE = """
import asyncio, json, sys
from pathlib import Path
from node.app import create_app
from node.datadir import init_data_dir
from node.settings import load_settings

data_dir = Path(sys.argv[1])
init_data_dir(data_dir, {"name": "EPN", "commune": "Brest"})
app = create_app(load_settings(data_dir, {"scheduler": False}, environ={}))


async def start_and_stop():  # the lifespan imports the workers and what they use
    async with app.router.lifespan_context(app):
        pass


asyncio.run(start_and_stop())
print(json.dumps(sorted(name.split(".")[0] for name in sys.modules)))
"""


def loaded_by(code: str, *args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_the_app_starts_without_the_libraries_of_some_requests(tmp_path: Path) -> None:
    loaded = loaded_by(PROBE, str(tmp_path / "node"))
    assert "starlette" in loaded  # the probe did build the app
    assert loaded.isdisjoint(ON_DEMAND), sorted(loaded & set(ON_DEMAND))


def test_the_schema_library_comes_with_the_first_validation() -> None:
    code = (
        "import json, sys\n"
        "import federation.entry, federation.schema\n"
        "seen = [name for name in sys.modules if name == 'jsonschema_rs']\n"
        "federation.schema.is_valid('urn:papi:header', {})\n"
        "seen += ['after'] * ('jsonschema_rs' in sys.modules)\n"
        "print(json.dumps(seen))\n"
    )
    assert loaded_by(code) == {"after"}  # not before


PAGES_PROBE = """
import json, sys
from pathlib import Path
from node.app import create_app
from node.datadir import init_data_dir
from node.settings import load_settings

data_dir = Path(sys.argv[1])
init_data_dir(data_dir, {"name": "EPN", "commune": "Brest"})
app = create_app(load_settings(data_dir, {"scheduler": False}, environ={}))
prefixes = ("node.web.routes_", "node.api.places", "node.api.loans", "node.api.openapi")
pages = lambda: [name for name in sys.modules if name.startswith(prefixes)]
before = pages()
path = app.url_path_for("admin.share")
print(json.dumps({"before": before, "after": pages(), "path": path}))
"""


def test_the_route_modules_are_imported_by_their_first_use(tmp_path: Path) -> None:
    """No page module (nor API routes module) at start; the first time a page's route is
    looked for (a request, ``url_path_for``), the modules up to its own are imported,
    and it is found."""
    result = subprocess.run(
        [sys.executable, "-c", PAGES_PROBE, str(tmp_path / "node")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["before"] == []
    assert "node.web.routes_widget" in found["after"]
    assert "node.api.openapi" in found["after"]  # the API's routes come first
    assert found["path"] == "/admin/share"


SERVE_PROBE = """
import argparse, json, sys
from node.cli_support import initialise

initialise(argparse.Namespace(data_dir=sys.argv[1]))  # what 'papi serve' does first
print(json.dumps(sorted(name.split(".")[0] for name in sys.modules)))
"""


def test_papi_serve_checks_its_settings_without_the_schema_library(tmp_path: Path) -> None:
    """``papi serve`` checks the configured url, not the whole place profile's schema
    (``papi init`` does): the check loaded the schema library at every start
    (``idle_rss_mb`` 57.4 MiB in the benchmark, 49.8 without it)."""
    loaded = loaded_by(SERVE_PROBE, str(tmp_path / "node"))
    assert "node" in loaded  # the probe did run
    assert "jsonschema_rs" not in loaded
