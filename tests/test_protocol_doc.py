"""The published AsyncAPI document and the code's schemas are the same protocol."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
import yaml

from contract import asyncapi
from contract.protocol import (
    Alert,
    DetectedObject,
    NodeRole,
    NodeStatus,
    ProtocolError,
    Severity,
    decode,
    encode,
    hub_subscriptions,
    parse_topic,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "asyncapi.yaml"


def committed_doc() -> dict:
    return yaml.safe_load(DOC.read_text())


def validator_for(doc: dict, message: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{message}", "components": doc["components"]}
    return jsonschema.Draft202012Validator(schema)


def sample_alert(**over) -> Alert:
    fields = dict(
        id="0" * 31 + "1",
        site="riverside",
        node="gw-plaza",
        seq=7,
        ts=datetime(2026, 11, 27, 22, 15, tzinfo=UTC),
        kind="intrusion",
        severity=Severity.MAJOR,
        area="plaza",
        zone="lawn",
        camera="plaza",
        objects=[DetectedObject(label="person", score=0.81, box=(10, 20, 60, 180), track_id=3)],
        frame_size=(768, 576),
        has_snapshot=True,
    )
    return Alert(**{**fields, **over})


def test_committed_asyncapi_document_matches_the_code():
    """Regenerate with: python -m contract.asyncapi > docs/asyncapi.yaml"""
    assert committed_doc() == asyncapi.document()


def test_every_channel_of_the_document_is_a_topic_the_code_parses():
    doc = committed_doc()
    for name, channel in doc["channels"].items():
        topic = channel["address"].format(
            root="vw",
            site="riverside",
            node="gw-plaza",
            alertId="a" * 32,
            camera="plaza",
            requestId="b" * 32,
        )
        assert parse_topic(topic).channel.value == name


def test_payloads_the_code_encodes_validate_against_the_document():
    doc = committed_doc()
    alert = sample_alert()
    import json

    validator_for(doc, "Alert").validate(json.loads(encode(alert)))
    status = NodeStatus(site="riverside", node="gw-plaza", state="offline", role=NodeRole.SENSOR)
    validator_for(doc, "NodeStatus").validate(json.loads(encode(status)))


def test_document_rejects_what_the_code_rejects():
    doc = committed_doc()
    import json

    bad = json.loads(encode(sample_alert()))
    bad["severity"] = "apocalyptic"
    with pytest.raises(jsonschema.ValidationError):
        validator_for(doc, "Alert").validate(bad)
    with pytest.raises(ProtocolError) as err:
        decode(parse_topic("vw/riverside/gw-plaza/alert"), json.dumps(bad).encode())
    assert err.value.reason == "invalid"


def test_alert_round_trips_through_the_wire_format():
    alert = sample_alert()
    assert decode(parse_topic("vw/riverside/gw-plaza/alert"), encode(alert)) == alert


@pytest.mark.parametrize(
    "topic",
    [
        "vw/riverside/gw-plaza",
        "xx/riverside/gw-plaza/alert",
        "vw/River/gw/alert",
        "vw/riverside/gw-plaza/snapshot",
        "vw/riverside/gw-plaza/alert/" + "a" * 32,
        "vw/riverside/gw-plaza/snapshot/not-hex",
        "vw/riverside/gw-plaza/commands",
        "vw/riverside/gw-plaza/live",
        "vw/riverside/gw-plaza/live/Plaza",
        "vw/riverside/gw-plaza/watch/plaza",
    ],
)
def test_malformed_topics_are_refused(topic):
    with pytest.raises(ProtocolError) as err:
        parse_topic(topic)
    assert err.value.reason == "bad_topic"


def test_hub_subscriptions_cover_every_channel_once():
    filters = [f for f, _ in hub_subscriptions("vw")]
    assert sorted(filters) == sorted(
        ["vw/+/+/status", "vw/+/+/alert", "vw/+/+/stats", "vw/+/+/heartbeat", "vw/+/+/snapshot/+"]
    )
