"""Browser libraries from npm (Leaflet, Chart.js), served under ``/static/vendor/<name>/``.

``make`` installs them with ``npm ci`` into ``node_modules/`` at the repository root (pinned
in package-lock.json); nothing is copied into the repository. They are served inside the
public ``/static`` mount (libraries hold no data) so the service worker caches them with the
rest of the app shell and the map works with no internet. When ``node_modules`` is missing
the hub still starts: those URLs answer 404 and the map view says "run make".
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.staticfiles import StaticFiles

ROOT = Path(__file__).resolve().parents[2]
#: Where npm put the packages; VILLAGEWATCH_NODE_MODULES overrides (an installed hub).
NODE_MODULES = Path(os.environ.get("VILLAGEWATCH_NODE_MODULES", ROOT / "node_modules"))

#: URL name under /static/vendor/ -> the package folder that is served (only that folder).
VENDOR = {
    "chartjs": "chart.js/dist",  # the statistics page's charts (chart.umd.min.js)
    "leaflet": "leaflet/dist",
    "leaflet-rotated": "leaflet-imageoverlay-rotated",
}


class StaticWithVendor(StaticFiles):
    """The app's own static files, plus ``vendor/<name>/...`` from ``node_modules``.

    One mount, not one per library: the page's files and its libraries are the same public
    shell, and tests/test_api_auth.py keeps the set of public mounts to ``/static``."""

    def __init__(self, directory: Path, node_modules: Path = NODE_MODULES) -> None:
        super().__init__(directory=directory)
        self.vendor = {name: node_modules / sub for name, sub in VENDOR.items()}

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        parts = Path(path).parts
        if len(parts) >= 3 and parts[0] == "vendor" and parts[1] in self.vendor:
            base = self.vendor[parts[1]].resolve()
            full = (base / Path(*parts[2:])).resolve()
            # Only files inside the package's own folder (no ../ out of it).
            if not full.is_relative_to(base) or not full.is_file():
                return "", None
            return str(full), full.stat()
        return super().lookup_path(path)
