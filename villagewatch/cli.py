"""``villagewatch`` — one command, one subcommand per job.

Every subcommand validates its inputs first: a bad site file prints the file, the field path
and the fix, and exits with status 2 (no traceback). Ctrl-C (or SIGTERM) stops services
cleanly.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from contract.connection import NodeConnection
from contract.siteconfig import ConfigError, SiteConfig, load_site_config
from villagewatch.records_cli import add_records_commands
from villagewatch.usage import EXIT_USAGE, UsageError

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "site.example.yaml"

log = logging.getLogger("villagewatch")


def stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM, so every worker can wind down cleanly."""
    stop = threading.Event()

    def handler(signum, _frame):
        if stop.is_set():  # a second Ctrl-C means now
            raise KeyboardInterrupt
        log.info("stopping (signal %s)...", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def load_config(path: Path) -> SiteConfig:
    return load_site_config(path)


def connection_for(config: SiteConfig, node: str, explicit: Path | None) -> NodeConnection:
    path = explicit or config.resolve(config.broker.data_dir) / "nodes" / f"{node}.json"
    try:
        return NodeConnection.load(path)
    except ValueError as exc:
        raise UsageError(f"{exc}\n  fix: villagewatch provision --config FILE {node}") from None


# --- subcommands ------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    config = load_config(args.config)  # validate before the heavy imports
    from villagewatch.demo import run_demo

    return run_demo(
        config,
        data_dir=args.data_dir,
        duration=args.duration,
        http_port=args.port,
        broker_kind=args.broker,
        stop=stop_on_signals(),
    )


def cmd_replay(args: argparse.Namespace) -> int:
    if not args.video.exists():
        raise UsageError(f"{args.video}: video file not found")
    config = load_config(args.config) if args.config else None
    from edge.replay import replay

    watchlist = _watchlist_file(args.watchlist) if args.watchlist else None
    try:
        summary = replay(
            args.video,
            args.out,
            config=config,
            camera=args.camera,
            every_frame=args.every_frame,
            progress=not args.quiet,
            annotate=args.annotate,
            watchlist=watchlist,
        )
    except ValueError as exc:  # unknown camera, a model blind to a rule, an unwritable video
        raise UsageError(str(exc)) from None
    print(summary.table() if hasattr(summary, "table") else summary)
    return 0


def _watchlist_file(path: Path):
    """A watchlist update as the hub publishes it (JSON), for a replay's plate matching."""
    from pydantic import ValidationError

    from contract.watchlist import WatchlistUpdate

    try:
        return WatchlistUpdate.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise UsageError(f"{path}: not a watchlist update: {exc}") from None


def cmd_edge(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    from edge.agent import EdgeAgent

    node = args.node or _only(config, "gateway", [g.node for g in config.gateways])
    try:
        config.gateway(node)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    agent = EdgeAgent(config, node, connection_for(config, node, args.connection))
    return _serve(agent.start, agent.stop)


def cmd_hub(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    if args.tls_cert:  # the flags win over the site file's hub.tls_cert / hub.tls_key
        tls = {"tls_cert": str(args.tls_cert.resolve()), "tls_key": str(args.tls_key.resolve())}
        config = config.model_copy(update={"hub": config.hub.model_copy(update=tls)})
    from hub.service import HubService

    hub = HubService(
        config,
        connection_for(config, "hub", args.connection),
        data_dir=config.resolve(config.hub.data_dir),
        http_host=config.hub.http_host,
        http_port=config.hub.http_port,
        tune_gc=True,  # one hub per process: the collector made cheap (ingest rate)
        ingest_process=True,  # MQTT in a child process: storing gets this core to itself
    )
    hub.start()
    password = hub.ensure_admin()
    print(f"officer page: {hub.url}")
    if password:
        print(f"first admin login (shown once): admin / {password}")
    return _serve(lambda: None, hub.stop)


def cmd_broker(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    from broker.service import BrokerSelectionError, run_broker

    try:
        run_broker(config, stop_on_signals())
    except BrokerSelectionError as exc:
        raise UsageError(str(exc)) from None
    return 0


def cmd_bridge(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    from bridge.service import bridge_from_site

    try:
        bridge = bridge_from_site(config, args.connections)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return _serve(bridge.start, bridge.stop)


def cmd_provision(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    from broker.provision import provision_all, provision_node, provision_tls

    if not (args.node or args.all or args.tls):
        raise UsageError("name a NODE to provision, or give --all or --tls")
    if args.node and args.all:
        raise UsageError("give a NODE or --all, not both")
    try:
        if args.tls:
            tls = provision_tls(config)
            print(f"TLS for nodes on port {config.broker.tls_port}: server certificate {tls.cert}")
            print(f"  names: {', '.join(tls.names())}; CA (goes to every node): {tls.ca}")
            print(f"  private keys (mode 0600): {tls.key}")
        if args.all:
            made = list(provision_all(config, host=args.host, port=args.port).values())
        elif args.node:
            made = [provision_node(config, args.node, out=args.out, host=args.host, port=args.port)]
        else:
            made = []
    except (KeyError, ValueError) as exc:
        raise UsageError(str(exc.args[0] if exc.args else exc)) from None
    for conn, path in made:
        tls_note = f", TLS port {conn.tls_port}" if conn.uses_tls else ""
        print(f"provisioned {conn.node} ({conn.role}) on {conn.host}:{conn.port}{tls_note}")
        print(f"connection file (mode 0600, holds the password): {path}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    from hub.backup import BackupError, backup

    try:
        summary = backup(config.resolve(config.hub.data_dir), args.out)
    except BackupError as exc:
        raise UsageError(str(exc)) from None
    print(f"backup: {summary.describe()}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    from hub.backup import BackupError, DataDirBusy, restore

    try:
        summary = restore(args.backup, config.resolve(config.hub.data_dir), force=args.force)
    except DataDirBusy as exc:
        raise UsageError(f"{exc}\n  stop the hub first (or --force for a hung one)") from None
    except BackupError as exc:
        raise UsageError(str(exc)) from None
    print(f"restored: {summary.describe()}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    cams = sum(len(g.cameras) for g in config.gateways)
    print(
        f"{args.config}: ok — site {config.site.id}, {len(config.areas)} areas, "
        f"{len(config.gateways)} gateways, {cams} cameras, {len(config.sensors)} sensors"
    )
    return 0


def _only(config: SiteConfig, what: str, names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    raise UsageError(f"the site has {len(names)} {what}s {names}; choose one with --node")


def _serve(start: Callable[[], None], stop_fn: Callable[[], None]) -> int:
    stop = stop_on_signals()
    start()
    try:
        stop.wait()
    finally:
        stop_fn()
    return 0


# --- parser -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="villagewatch",
        description="Community security sensing: edge video analytics, sensor nodes, "
        "an MQTT hub and the officer app.",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func, help_text: str, description: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text, description=description)
        sp.set_defaults(func=func)
        return sp

    def config_arg(sp: argparse.ArgumentParser, required: bool = True) -> None:
        kw = {"required": True} if required else {"default": None}
        sp.add_argument("--config", type=Path, help="site YAML file", **kw)

    d = add(
        "demo",
        cmd_demo,
        "run everything on this machine with the recorded excerpt",
        "Start the broker (embedded by default), the hub, an edge agent replaying the "
        "committed footage in a loop at real-time speed, simulated door sensors, and two "
        "patrol units whose trackers report through the OsmAnd protocol. A script works the "
        "first camera incident once, from acknowledged to resolved, through the hub's API. "
        "Prints the officer page URL and the logins generated for this run.",
    )
    d.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="site YAML file")
    d.add_argument("--duration", type=float, default=None, help="stop after SECONDS")
    d.add_argument(
        "--port",
        type=int,
        default=None,
        help="officer page port (default: the site file's hub.http_port; 0 = any free)",
    )
    d.add_argument(
        "--data-dir", type=Path, default=Path("var/demo"), help="scratch folder, emptied at start"
    )
    d.add_argument(
        "--broker",
        choices=["embedded", "mosquitto"],
        default="embedded",
        help="which MQTT broker to run (default: embedded, zero-install)",
    )

    r = add(
        "replay",
        cmd_replay,
        "run the camera pipeline over a recorded video",
        "Process a recorded video as fast as the machine allows. Writes "
        "OUT/detections.jsonl (one line per processed frame), OUT/events.jsonl (the alerts "
        "it would publish), OUT/snapshots/, OUT/summary.json (also printed as a table) and "
        "OUT/heatmap.png (where people stood). Same input, same detections and events.",
    )
    r.add_argument("video", type=Path, help="video file (anything OpenCV reads)")
    r.add_argument("--out", type=Path, required=True, help="output folder")
    config_arg(r, required=False)
    r.add_argument("--camera", help="camera in the site file whose zones and settings to use")
    r.add_argument(
        "--every-frame",
        action="store_true",
        help="run the detector on every frame (no motion gate, no fps cap)",
    )
    r.add_argument(
        "--annotate",
        type=Path,
        metavar="OUT.mp4",
        help="also write the video annotated: boxes, track ids, zones, lines, ring counts, "
        "heatmap, a red border on events",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument(
        "--watchlist",
        type=Path,
        help="a watchlist update (JSON, as the hub publishes it) to match plates against "
        "on cameras with plates: true",
    )

    e = add(
        "edge",
        cmd_edge,
        "run a camera gateway's edge agent",
        "Capture → motion → detect → track → rules → alerts with snapshots, published "
        "through a persistent outbox. Waits for the broker if it is not up yet.",
    )
    config_arg(e)
    e.add_argument("--node", help="gateway node id (default: the only gateway in the file)")
    e.add_argument("--connection", type=Path, help="connection file from 'provision'")

    h = add(
        "hub",
        cmd_hub,
        "run the community hub (ingest, store, API, officer page)",
        "Subscribe to every node, validate and store alerts in SQLite, serve the "
        "authenticated API and the officer page.",
    )
    config_arg(h)
    h.add_argument("--connection", type=Path, help="the hub's connection file")
    h.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    h.add_argument("--tls-key", type=Path, help="...and this private key (PEM)")

    b = add(
        "broker",
        cmd_broker,
        "run the MQTT broker for the site",
        "Run Eclipse Mosquitto from a generated config (no anonymous access, per-node "
        "passwords and ACL, client ids bound to users, persistence, TLS with "
        "broker.tls_port) and restart it if it dies; or, for the demo, the embedded broker "
        "(loopback only) where mosquitto is absent.",
    )
    config_arg(b)

    br = add(
        "bridge",
        cmd_bridge,
        "speak for another system's devices as VillageWatch nodes",
        "zigbee2mqtt: read the devices the site file lists under integrations.zigbee2mqtt "
        "from Zigbee2MQTT's broker and speak for each as its own sensor node (alerts kept "
        "until the hub's receipt, heartbeats, online/offline). Provision each device's node "
        "first. See docs/integrations.md.",
    )
    br.add_argument("system", choices=["zigbee2mqtt"], help="the system to bridge")
    config_arg(br)
    br.add_argument("--connections", type=Path, help="folder of the devices' connection files")

    pv = add(
        "provision",
        cmd_provision,
        "create a node's broker credentials",
        "Generate a password for NODE (a gateway, a sensor or 'hub'), add its ACL entry "
        "and write its connection file (mode 0600). Running it again rotates the password. "
        "With broker.tls_port set, node files carry the site CA; --tls makes the site CA "
        "and the broker's server certificate now (or checks the site's own tls_ca/tls_cert/"
        "tls_key).",
    )
    config_arg(pv)
    pv.add_argument("node", nargs="?", help="node id from the site file, or 'hub'")
    pv.add_argument("--all", action="store_true", help="the hub and every node of the site")
    pv.add_argument("--tls", action="store_true", help="make (or check) the TLS certificates")
    pv.add_argument("--out", type=Path, help="where to write the connection file")
    pv.add_argument("--host", help="broker address the node should use (e.g. the LAN address)")
    pv.add_argument("--port", type=int, help="broker port the node should use")

    bk = add(
        "backup",
        cmd_backup,
        "copy the hub's data while it runs",
        "A consistent online copy of the hub's database (SQLite's backup API), snapshots, "
        "photos and Web Push key into the new folder OUT (mode 0700).",
    )
    config_arg(bk)
    bk.add_argument("out", type=Path, help="new folder for the backup")
    rs = add(
        "restore",
        cmd_restore,
        "bring a backup back",
        "Replace the hub's data with a backup made by 'backup'. Refuses while a hub has the "
        "data open (it holds a lock on hub.lock in its data folder); stop the hub first.",
    )
    config_arg(rs)
    rs.add_argument("backup", type=Path, help="a folder written by 'backup'")
    rs.add_argument("--force", action="store_true", help="even if a hub has the data open")

    c = add("check", cmd_check, "validate a site file", "Validate a site file and summarise it.")
    c.add_argument("config", type=Path, help="site YAML file")
    add_records_commands(sub)  # audit verify, report monthly: villagewatch/records_cli.py
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # amqtt logs every connection (and every port probe) at INFO/ERROR: too chatty for a site.
    for chatty in ("amqtt", "transitions"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        return args.func(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
