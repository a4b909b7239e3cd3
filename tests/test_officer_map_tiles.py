"""Street tiles under the site plan: the officer page's CSP lets images come from the tile
server's origin only when the site file names one (``map.tile_url``); otherwise images stay
'self' (plus blob:/data:), so a hub with no internet asks nothing of anyone."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hub_helpers import example_config, offline_connection

from hub.api.app import tile_origin
from hub.api.server import WebServer
from hub.service import HubService


def img_src(tile_url: str | None, data_dir: Path) -> str:
    """The img-src of the real hub's page, served over HTTP, for a site with ``tile_url``."""
    config = example_config()
    site_map = config.map.model_copy(update={"tile_url": tile_url})
    service = HubService(
        config.model_copy(update={"map": site_map}), offline_connection(), data_dir
    )
    server = WebServer(service.app, "127.0.0.1", 0)
    server.start()
    try:
        csp = httpx.get(f"http://127.0.0.1:{server.port}/").headers["content-security-policy"]
        api = httpx.get(f"http://127.0.0.1:{server.port}/api/health").headers
        assert api["content-security-policy"] == csp  # one policy for every response
    finally:
        server.stop()
        service.storage.close()
    return next(d for d in csp.split("; ") if d.startswith("img-src"))


def test_without_tiles_images_come_only_from_the_hub(tmp_path: Path) -> None:
    assert img_src(None, tmp_path / "hub") == "img-src 'self' blob: data:"


def test_a_tile_url_adds_its_origin_to_img_src(tmp_path: Path) -> None:
    url = "https://{s}.tile.example.org/{z}/{x}/{y}.png"
    assert img_src(url, tmp_path / "hub") == "img-src 'self' blob: data: https://*.tile.example.org"


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://tiles.example/{z}/{x}/{y}.png", "https://tiles.example"),
        ("http://10.0.0.5:8080/osm/{z}/{x}/{y}.png", "http://10.0.0.5:8080"),
        ("https://user:secret@tiles.example/{z}/{x}/{y}.png", "https://tiles.example"),
        ("ftp://tiles.example/{z}.png", None),  # not something a browser loads tiles from
        ("https://tiles.{s}.example/{z}.png", None),  # a placeholder CSP cannot say
        ("https://tiles.example;script-src *", None),  # no injection into the header
        ("", None),
    ],
)
def test_tile_origin(url: str, origin: str | None) -> None:
    assert tile_origin(url) == origin
