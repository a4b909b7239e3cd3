"""Build the AsyncAPI 3.0 document of the wire protocol from the code's own schemas.

``python -m contract.asyncapi > docs/asyncapi.yaml`` regenerates the committed document;
``tests/test_protocol_doc.py`` fails when the two disagree, so the document cannot rot.
"""

from __future__ import annotations

import sys

import yaml

from contract import __version__
from contract.live import MAX_LIVE_FRAME_BYTES, LiveFrameHeader, LiveRequest
from contract.protocol import (
    DEFAULT_TOPIC_ROOT,
    HUB_TO_NODE_CHANNELS,
    MAX_JSON_BYTES,
    MAX_SNAPSHOT_BYTES,
    PROTOCOL_VERSION,
    Alert,
    Heartbeat,
    NodeStats,
    NodeStatus,
    Receipt,
)
from contract.verification import MAX_EVIDENCE_BYTES, EvidenceHeader, VerifyRequest
from contract.watchlist import MAX_WATCHLIST_BYTES, WatchlistUpdate

_REF = "#/components/schemas/{model}"

_CHANNELS = {
    "status": (
        "{root}/{site}/{node}/status",
        "NodeStatus",
        "Retained. 'online' on connect; the broker publishes 'offline' as the last will.",
    ),
    "alert": (
        "{root}/{site}/{node}/alert",
        "Alert",
        "QoS 1, at least once: receivers drop duplicates by id.",
    ),
    "snapshot": (
        "{root}/{site}/{node}/snapshot/{alertId}",
        None,
        f"QoS 1. One JPEG (image/jpeg, at most {MAX_SNAPSHOT_BYTES} bytes) for the alert.",
    ),
    "stats": ("{root}/{site}/{node}/stats", "NodeStats", "QoS 0, periodic node figures."),
    "heartbeat": (
        "{root}/{site}/{node}/heartbeat",
        "Heartbeat",
        "QoS 1, from sensor nodes every interval_s: battery, signal, temperature, tamper and"
        " the sensor's state. Three missed intervals: the node is offline (added in v2).",
    ),
    "receipt": (
        "{root}/{site}/{node}/receipt",
        "Receipt",
        "QoS 1, from the hub, readable only by that node: these alert ids are stored; the"
        " node may delete them from its outbox (v2). Until then it re-sends after a time-out.",
    ),
    "watch": (
        "{root}/{site}/{node}/watch",
        "LiveRequest",
        "QoS 1, from the hub, readable only by that node: stream this camera for lease_s more"
        " seconds (0: stop now). Renewed while someone watches; see contract/live.py.",
    ),
    "live": (
        "{root}/{site}/{node}/live/{camera}",
        None,
        "QoS 0, never retained, readable only by the hub: one privacy-filtered live frame, a"
        " 4-byte big-endian header length, a LiveFrameHeader (JSON), then the JPEG; at most"
        f" {MAX_LIVE_FRAME_BYTES} bytes.",
    ),
    "verify": (
        "{root}/{site}/{node}/verify",
        "VerifyRequest",
        "QoS 1, from the hub only, readable only by that node: a sensor tripped in this"
        " camera's area; answer with a snapshot now and a clip from pre_s before to post_s"
        " after this request. See contract/verification.py.",
    ),
    "evidence": (
        "{root}/{site}/{node}/evidence/{requestId}",
        None,
        "QoS 1, readable only by the hub: a 4-byte big-endian header length, an EvidenceHeader"
        " (JSON: part snapshot or clip, person_seen), then a privacy-filtered JPEG or MJPEG"
        f" AVI (or nothing, with a reason); at most {MAX_EVIDENCE_BYTES} bytes.",
    ),
    "watchlist": (
        "{root}/{site}/{node}/watchlist",
        "WatchlistUpdate",
        "QoS 1, retained, from the hub only, readable only by that node: the whole current"
        " watchlist (plates; faces only with the authorisation they run under), replacing the"
        f" previous one; at most {MAX_WATCHLIST_BYTES} bytes. See contract/watchlist.py.",
    ),
}
#: Channels the hub publishes and a node receives.
_FROM_HUB = tuple(str(c) for c in HUB_TO_NODE_CHANNELS)
#: Binary messages: their name and content type.
_BINARY = {
    "snapshot": ("Snapshot", "image/jpeg"),
    "live": ("LiveFrame", "application/octet-stream"),
    "evidence": ("Evidence", "application/octet-stream"),
}


def component_schemas() -> dict[str, dict]:
    """Every payload schema, with nested models hoisted beside them (AsyncAPI style)."""
    schemas: dict[str, dict] = {}
    models = (Alert, NodeStatus, NodeStats, Heartbeat, Receipt, LiveRequest, LiveFrameHeader)
    for model in (*models, VerifyRequest, EvidenceHeader, WatchlistUpdate):
        schema = model.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return dict(sorted(schemas.items()))


def document() -> dict:
    params = {
        "root": {"description": f"topic root, default '{DEFAULT_TOPIC_ROOT}'"},
        "site": {"description": "site id"},
        "node": {"description": "publishing node id (its broker username)"},
    }
    channels, operations, messages = {}, {}, {}
    for name, (address, payload, description) in _CHANNELS.items():
        ch_params = {k: dict(v) for k, v in params.items()}  # no YAML anchors
        if "{alertId}" in address:
            ch_params["alertId"] = {"description": "Alert.id the snapshot belongs to"}
        if "{camera}" in address:
            ch_params["camera"] = {"description": "the camera streamed"}
        if "{requestId}" in address:
            ch_params["requestId"] = {"description": "VerifyRequest.request_id answered"}
        msg_name, content = _BINARY.get(name, (payload, "application/json"))
        messages[msg_name] = {
            "name": msg_name,
            "contentType": content,
            "payload": {"$ref": _REF.format(model=payload)}
            if payload
            else {"type": "string", "format": "binary"},
        }
        channels[name] = {
            "address": address,
            "description": description,
            "parameters": ch_params,
            "messages": {msg_name: {"$ref": f"#/components/messages/{msg_name}"}},
        }
        from_hub = name in _FROM_HUB
        operations[f"{'receive' if from_hub else 'publish'}_{name}"] = {
            "action": "receive" if from_hub else "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"A node receives its {name} messages from the hub."
            if from_hub
            else f"A node publishes its {name}.",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "VillageWatch wire protocol",
            "version": f"{PROTOCOL_VERSION}.0.0",
            "description": (
                f"Generated from contract/protocol.py (package {__version__}). JSON payloads "
                f"carry v={PROTOCOL_VERSION} (v1 is still accepted from nodes) and are at most "
                f"{MAX_JSON_BYTES} bytes. See docs/protocol.md."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": component_schemas()},
    }


def main() -> None:
    yaml.safe_dump(document(), sys.stdout, sort_keys=False, width=100)


if __name__ == "__main__":
    main()
