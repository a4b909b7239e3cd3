"""The video-verification messages (contract/verification.py): topics, round trips, and the
malformed evidence a receiver must refuse."""

from __future__ import annotations

import pytest

from contract.protocol import Channel, ProtocolError, hub_subscriptions, parse_topic
from contract.verification import (
    EvidenceHeader,
    VerifyRequest,
    decode_evidence,
    decode_request,
    encode_evidence,
    encode_request,
    evidence_topic,
    verify_topic,
)

REQUEST_ID = "c" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 20 + b"\xff\xd9"
AVI = b"RIFF\x10\x00\x00\x00AVI LIST" + b"\x00" * 20


def header(**over) -> EvidenceHeader:
    fields = dict(request_id=REQUEST_ID, camera="plaza", part="snapshot", person_seen=True,
                  person_score=0.8, frames=12, content_type="image/jpeg")  # fmt: skip
    return EvidenceHeader(**{**fields, **over})


def test_topics_parse_back_and_the_hub_ingest_link_does_not_take_them():
    topic = parse_topic(evidence_topic("vw", "riverside", "gw-plaza", REQUEST_ID))
    assert topic.channel is Channel.EVIDENCE and topic.request_id == REQUEST_ID
    assert str(topic) == f"vw/riverside/gw-plaza/evidence/{REQUEST_ID}"
    assert parse_topic(verify_topic("vw", "riverside", "gw-plaza")).channel is Channel.VERIFY
    for bad in ("vw/riverside/gw-plaza/evidence", "vw/riverside/gw-plaza/evidence/nothex"):
        with pytest.raises(ProtocolError):
            parse_topic(bad)
    assert not any("verify" in f or "evidence" in f for f, _ in hub_subscriptions("vw"))


def test_a_request_round_trips_and_is_refused_for_another_node():
    request = VerifyRequest(
        site="riverside", node="gw-plaza", camera="plaza", request_id=REQUEST_ID,
        pre_s=4, post_s=2, clip_fps=4, clip_width=480,
    )  # fmt: skip
    payload = encode_request(request)
    assert decode_request(payload, "riverside", "gw-plaza") == request
    with pytest.raises(ProtocolError) as err:
        decode_request(payload, "riverside", "gw-other")
    assert err.value.reason == "node_mismatch"
    with pytest.raises(ProtocolError):
        decode_request(b'{"type": "verify_request"}', "riverside", "gw-plaza")


@pytest.mark.parametrize(
    ("head", "body"),
    [(header(), JPEG), (header(part="clip", content_type="video/x-msvideo"), AVI),
     (header(content_type=None, person_seen=False, reason="no frames buffered"), b"")],
)  # fmt: skip
def test_evidence_round_trips(head: EvidenceHeader, body: bytes):
    assert decode_evidence(encode_evidence(head, body)) == (head, body)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(encode_evidence(header(), AVI), "wrong_type"),
     (encode_evidence(header(content_type="video/x-msvideo"), JPEG), "wrong_type"),
     (encode_evidence(header(content_type=None), JPEG), "invalid"),
     (b"\x00\x00\xff\xff{}", "invalid"), (b"\x00", "invalid"),
     (encode_evidence(header(), JPEG + b"\x00" * (2 * 1024 * 1024)), "too_large")],
)  # fmt: skip
def test_malformed_evidence_is_refused(payload: bytes, reason: str):
    with pytest.raises(ProtocolError) as err:
        decode_evidence(payload)
    assert err.value.reason == reason
