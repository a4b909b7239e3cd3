"""The officer page as an installable app, in a real Chromium against a real hub: a valid
manifest with PNG icons (the SVG icon, rendered), a service worker at the root that keeps
the app shell but never personal data, shows pushed notifications, and serves an offline
page when the hub is gone.

Set ``VW_WRITE_ICONS=1`` to (re)write the PNG icons from the SVG ones."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from hub_helpers import REPO
from officer_kit import PHONE, add_user, browser, hub, open_page, sign_in
from playwright.sync_api import Browser, Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.mosquitto]
__all__ = ["browser", "hub"]  # the fixtures, imported for pytest

STATIC = REPO / "hub" / "web" / "static"
#: PNG icon -> the SVG it is drawn from, and its size.
ICONS = {
    "icon-192.png": ("icon.svg", 192),
    "icon-512.png": ("icon.svg", 512),
    "icon-maskable-512.png": ("icon-maskable.svg", 512),
}
CACHED_PATHS = """async () => {
    const paths = [];
    for (const name of await caches.keys()) {
        const cache = await caches.open(name);
        for (const request of await cache.keys()) paths.push(new URL(request.url).pathname);
    }
    return paths;
}"""


def bgra(image: np.ndarray) -> np.ndarray:
    """Opaque PNGs decode with 3 channels: give every image its alpha."""
    return image if image.shape[2] == 4 else cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)


def render_svg(page: Page, svg: Path, size: int) -> np.ndarray:
    """``svg`` drawn by Chromium at ``size`` x ``size``, as BGRA pixels."""
    data = base64.b64encode(svg.read_bytes()).decode()
    page.set_viewport_size({"width": size, "height": size})
    page.set_content(
        '<body style="margin:0">'
        f'<img src="data:image/svg+xml;base64,{data}" width="{size}" height="{size}"></body>'
    )
    page.wait_for_function("() => document.images[0].complete")
    png = page.screenshot(omit_background=True)
    return bgra(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED))


def test_the_png_icons_are_the_svg_icons_rendered(browser: Browser):
    page = browser.new_page()
    try:
        for name, (svg, size) in ICONS.items():
            drawn = render_svg(page, STATIC / svg, size)
            if os.environ.get("VW_WRITE_ICONS"):
                cv2.imwrite(str(STATIC / name), drawn)
            stored = bgra(cv2.imread(str(STATIC / name), cv2.IMREAD_UNCHANGED))
            assert stored.shape == (size, size, 4), name
            difference = np.abs(stored.astype(int) - drawn.astype(int)).mean()
            assert difference < 2, f"{name} is not {svg} rendered: VW_WRITE_ICONS=1 redraws it"
    finally:
        page.close()


def test_the_page_installs_with_a_manifest_and_icons(hub, browser: Browser):
    with open_page(browser, PHONE) as (page, _):
        page.goto(hub.url)
        href = page.get_attribute('link[rel="manifest"]', "href")
        response = page.request.get(hub.url.rstrip("/") + href)
        assert response.headers["content-type"].startswith("application/manifest+json")
        manifest = response.json()
        assert manifest["name"] and manifest["short_name"] == "VillageWatch"
        assert (manifest["start_url"], manifest["scope"], manifest["display"]) == (
            "/",
            "/",
            "standalone",
        )
        pngs = {}
        for icon in manifest["icons"]:
            body = page.request.get(hub.url.rstrip("/") + icon["src"])
            assert body.ok, icon["src"]
            if icon["type"] == "image/png":
                image = cv2.imdecode(np.frombuffer(body.body(), np.uint8), cv2.IMREAD_UNCHANGED)
                width, height = map(int, icon["sizes"].split("x"))
                assert image.shape[:2] == (height, width), icon["src"]
                pngs[(icon["purpose"], width)] = icon["src"]
        assert {("any", 192), ("any", 512), ("maskable", 512)} <= set(pngs)


def test_the_service_worker_keeps_the_shell_not_the_data_and_is_there_when_the_hub_is_not(
    hub, browser: Browser
):
    with open_page(browser, PHONE) as (page, problems):
        sign_in(page, hub.url, "ana", add_user(hub, "ana"), problems)
        # 127.0.0.1 is a secure context: the worker registers, for the whole site.
        scope = page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
        assert scope == hub.url
        # Installed, before it has answered a single request: the shell is in its cache.
        cached = page.evaluate(CACHED_PATHS)
        shell = {f"/static/{p.name}" for p in STATIC.glob("*.js") if p.name != "sw.js"}
        assert {"/", "/static/offline.html", *shell} <= set(cached)  # every module of the app

        page.reload()  # from now on the worker answers this page's requests
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        cached = page.evaluate(CACHED_PATHS)
        assert [p for p in cached if p.startswith("/api/")] == []  # personal data: never
        assert problems == []

        hub.stop()
        page.goto(hub.url)
        expect(page.locator("h2")).to_have_text("The hub is not reachable")
        expect(page.locator("#retry")).to_be_visible()


def test_a_pushed_notification_is_shown_by_the_service_worker(hub, browser: Browser):
    with open_page(browser, PHONE) as (page, _):
        page.context.grant_permissions(["notifications"], origin=hub.url.rstrip("/"))
        page.goto(hub.url)
        page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
        cdp = page.context.new_cdp_session(page)
        registrations = []
        cdp.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda e: registrations.extend(e["registrations"]),
        )
        cdp.send("ServiceWorker.enable")
        for _ in range(200):  # the registration is reported as an event; let it come in
            if registrations:
                break
            page.evaluate("() => new Promise(done => setTimeout(done, 10))")
        assert registrations, "no service worker registration reported"
        incident_id = "0123456789abcdef0123456789abcdef"
        payload = (
            '{"title": "Not acknowledged (tier 1, station supervisors): person in zone lawn",'
            ' "body": "INC-20261202-0001 · CRITICAL intrusion · plaza · waiting 30 s",'
            f' "incident_id": "{incident_id}", "severity": "critical", "tier": 1,'
            f' "url": "/#/incidents/{incident_id}"}}'
        )
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": hub.url.rstrip("/"),
                "registrationId": registrations[0]["registrationId"],
                "data": payload,
            },
        )
        page.wait_for_function(
            """async () => {
                const reg = await navigator.serviceWorker.ready;
                return (await reg.getNotifications()).length > 0;
            }"""
        )
        shown = page.evaluate(
            """async () => {
                const reg = await navigator.serviceWorker.ready;
                return (await reg.getNotifications()).map(n => ({
                    title: n.title, tag: n.tag, data: n.data,
                    requireInteraction: n.requireInteraction}));
            }"""
        )
        assert shown == [
            {
                "title": "Not acknowledged (tier 1, station supervisors): person in zone lawn",
                "tag": f"incident-{incident_id}",
                "data": {"incident_id": incident_id, "url": f"/#/incidents/{incident_id}"},
                "requireInteraction": True,
            }
        ]
