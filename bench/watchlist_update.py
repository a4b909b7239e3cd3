"""How large a gateway's watchlist update gets, and what building one costs (issue 10).

Measured on a real hub SQLite file filled through the watchlist tables:

1. **size**: the encoded :class:`~contract.watchlist.WatchlistUpdate` for ``--plates`` plate
   entries (realistic fields: a mainland plate, a one-line reason, a case reference) and
   ``--faces`` face entries (real 1024-float embeddings, base64), beside the broker's limit
   :data:`~contract.watchlist.MAX_WATCHLIST_BYTES`; bytes per plate and per face;
2. **build**: the hub reading the tables and building + encoding every gateway's update
   (what each change and each expiry costs), beside the gateway's own check of the same
   bytes (:func:`~contract.watchlist.decode_update`), measured in the same run.

The machine has two cores shared with other work: absolute times are noisy, the ratio is the
figure to quote. Nothing is asserted.

    .venv/bin/python bench/watchlist_update.py [--plates 4000] [--faces 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from watchlist_kit import watchlist_config  # noqa: E402

from contract.watchlist import (  # noqa: E402
    MAX_WATCHLIST_BYTES,
    Authorisation,
    FaceEntry,
    PlateEntry,
    decode_update,
    encode_embedding,
)
from hub.clock import ManualClock  # noqa: E402
from hub.storage.sqlite import open_sqlite_storage  # noqa: E402
from hub.storage.sqlite.watchlist import watchlist_for  # noqa: E402
from hub.watchlist.service import WatchlistService  # noqa: E402
from hub.watchlist.updates import build_all  # noqa: E402
from hub.watchlist.vault import PhotoVault  # noqa: E402


def fill(service: WatchlistService, plates: int, faces: int, now: datetime) -> None:
    repo = service.repo
    auth = Authorisation(
        id="a" * 32, legal_basis="Criminal Procedure Law art. 28, court order 12/2026",
        case_number="RV-2026-0142", approved_by="superintendent-li", cameras=["gw-plaza/plaza"],
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=2),
        expires_at=now + timedelta(days=3),
    )  # fmt: skip
    rng = np.random.default_rng(7)
    with repo.transaction():
        repo.add_authorisation(auth, "supervisor", now)
        for i in range(plates):
            entry = PlateEntry(
                id=f"{i:032x}", plate=f"粤C·{i:05d}", reason="stolen vehicle, seen at the ford",
                owner="officer-wang", case_ref=f"RV-2026-{i:04d}",
                expires_at=now + timedelta(days=30),
            )  # fmt: skip
            repo.add_plate(entry, entry.plate, "officer", now)
        for i in range(faces):
            vector = rng.standard_normal(1024).astype(np.float32)
            vector /= np.linalg.norm(vector)
            entry = FaceEntry(
                id=f"{i:031x}f", authorisation=auth.id, embedding=encode_embedding(vector),
                expires_at=now + timedelta(days=3),
            )  # fmt: skip
            repo.add_face(entry, "supervisor", now, "watchlist/photos/bench.sealed")


def open_service(folder: Path, clock: ManualClock) -> WatchlistService:
    storage = open_sqlite_storage(folder)
    return WatchlistService(
        watchlist_for(storage), PhotoVault(folder), watchlist_config(), clock, lambda *a: None
    )


def plaza_bytes(service: WatchlistService, now: datetime) -> int:
    """The plaza gateway's update (the one in the faces' scope), unchecked."""
    return len(build_all(service.config, service.state(), now)["gw-plaza"][1])


def timed(work, rounds: int) -> float:
    """Median seconds of ``rounds`` runs of ``work``."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plates", type=int, default=4000)
    parser.add_argument("--faces", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    clock = ManualClock(datetime.now(UTC))
    now = clock()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        empty = plaza_bytes(open_service(root / "empty", clock), now)
        only_plates = open_service(root / "plates", clock)
        fill(only_plates, args.plates, 0, now)
        only_faces = open_service(root / "faces", clock)
        fill(only_faces, 0, args.faces, now)
        both = open_service(root / "both", clock)
        fill(both, args.plates, args.faces, now)
        per_plate = (plaza_bytes(only_plates, now) - empty) / max(args.plates, 1)
        per_face = (plaza_bytes(only_faces, now) - empty) / max(args.faces, 1)
        full = plaza_bytes(both, now)
        print(f"update size: {args.plates} plates + {args.faces} faces = {full:,} bytes "
              f"({full / MAX_WATCHLIST_BYTES:.2f} x the limit {MAX_WATCHLIST_BYTES:,}); "
              f"{per_plate:.0f} B a plate, {per_face:.0f} B a face")  # fmt: skip
        fits_plates = int((MAX_WATCHLIST_BYTES - empty) / per_plate)
        fits_faces = int((MAX_WATCHLIST_BYTES - empty) / per_face)
        print(f"fits alone: {fits_plates:,} plates (the model caps at 4,000) or "
              f"{fits_faces:,} faces (capped at 200)")  # fmt: skip
        payload = build_all(both.config, both.state(), now)["gw-plaza"][1]
        build = timed(lambda: build_all(both.config, both.state(), now), args.rounds)
        check = timed(lambda: decode_update(payload, "riverside", "gw-plaza"), args.rounds)
        print(
            f"hub build+encode of every gateway's update (2 gateways): {build * 1000:.1f} ms; "
            f"gateway's check of one: {check * 1000:.1f} ms; ratio {build / check:.2f}"
        )
        print("(2 shared cores: absolute times are noisy; quote the ratio)")


if __name__ == "__main__":
    main()
