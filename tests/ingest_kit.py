"""Hostile messages for the ingest tests: the issue's poison kinds, and hypothesis
strategies that build messages from the protocol's schema and from outside it."""

from __future__ import annotations

import json
import string

from hub_helpers import make_alert
from hypothesis import strategies as st

from contract.protocol import alert_topic, encode, snapshot_topic, stats_topic, status_topic

SITE = "riverside"

#: Every reason a quarantine row may give, and none other.
REASONS = {
    "bad_topic",
    "too_large",
    "not_json",
    "wrong_version",
    "invalid",
    "node_mismatch",
    "not_jpeg",
    "internal_error",
}


def alert_json(node: str, seq: int = 0, **fields) -> dict:
    """A valid alert's JSON with ``fields`` replaced (by anything, valid or not)."""
    return {**json.loads(encode(make_alert(node=node))), "seq": seq, **fields}


def poison_from_the_issue(node: str) -> dict[str, bytes]:
    """The messages issue 7 saw stall the hub: each once, by name."""
    nested = b"[" * 1000 + b"]" * 1000
    return {
        "year_9999": json.dumps(alert_json(node, ts="9999-12-31T23:59:59-05:00")).encode(),
        "year_0001": json.dumps(alert_json(node, ts="0001-01-01T00:00:00+05:00")).encode(),
        "seq_2_63": json.dumps(alert_json(node, seq=2**63)).encode(),
        "seq_2_64": json.dumps(alert_json(node, seq=2**64 + 1)).encode(),
        "nested_1000_array": nested,
        "nested_1000_in_alert": json.dumps(alert_json(node))[:-1].encode()
        + b', "objects": '
        + nested
        + b"}",
        "nested_1000_objects": b'{"a":' * 1000 + b"1" + b"}" * 1000,
        "nan_score": json.dumps(alert_json(node), separators=(",", ":"))
        .replace('"score":0.87', '"score":NaN')
        .encode(),
        "huge_number": json.dumps(alert_json(node), separators=(",", ":"))
        .replace('"seq":0', '"seq":' + "9" * 5000)
        .encode(),
    }


# --- hypothesis: from the schema ---------------------------------------------------------

_hostile_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**53, 2**53 - 1, 2**63, 2**63 - 1, 2**64, -(2**63) - 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(
        [
            "9999-12-31T23:59:59-05:00",
            "0001-01-01T00:00:00+05:00",
            "2024-02-30T10:00:00Z",
            "2024-05-01T21:03:04",
            "2199-12-31T23:59:59+14:00",
            "2000-01-01T00:00:00-12:00",
            "",
            "x" * 300,
        ]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)

_ids = st.text(alphabet=string.ascii_lowercase + string.digits + "-_", min_size=1, max_size=8)
_good_ts = st.sampled_from(["2026-12-02T07:00:00+00:00", "2030-01-01T00:00:00-05:00"])

_good_alert_fields = {
    "v": st.sampled_from([1, 2]),
    "type": st.just("alert"),
    "id": st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    "site": st.just(SITE),
    "seq": st.integers(min_value=0, max_value=2**53 - 1),
    "ts": _good_ts,
    "kind": st.sampled_from(["intrusion", "door", "loitering"]),
    "severity": st.sampled_from(["critical", "major", "minor", "warning", "info"]),
    "area": st.sampled_from(["plaza", "gate", "school"]),
    "zone": st.one_of(st.none(), st.text(max_size=64)),
    "camera": st.one_of(st.none(), _ids),
    "message": st.text(max_size=280),
    "objects": st.lists(
        st.fixed_dictionaries(
            {
                "label": st.text(max_size=32),
                "score": st.floats(0, 1),
                "box": st.tuples(*[st.floats(0, 4000)] * 4),
            }
        ),
        max_size=3,
    ),
    "has_snapshot": st.booleans(),
}


@st.composite
def schema_alerts(draw, node: str) -> bytes:
    """An alert as the schema describes it, with some fields swapped for hostile values,
    some dropped and some added."""
    fields = {name: draw(strategy) for name, strategy in _good_alert_fields.items()}
    fields["node"] = node
    for name in draw(st.lists(st.sampled_from(sorted(fields)), max_size=3, unique=True)):
        if draw(st.booleans()):
            fields[name] = draw(_hostile_scalars)
        else:
            del fields[name]
    if draw(st.integers(0, 9)) == 0:
        fields[draw(st.text(max_size=8))] = draw(_hostile_scalars)
    return json.dumps(fields, allow_nan=False, default=str).encode()


@st.composite
def schema_statuses(draw, node: str) -> bytes:
    fields = {
        "v": draw(st.sampled_from([1, 2, 3])),
        "type": "status",
        "site": SITE,
        "node": node,
        "state": draw(st.sampled_from(["online", "offline", "rebooting"])),
        "role": draw(st.sampled_from(["camera_gateway", "sensor", "hub", "toaster"])),
        "ts": draw(st.one_of(_good_ts, _hostile_scalars)),
    }
    return json.dumps(fields, default=str).encode()


# --- hypothesis: outside the schema -------------------------------------------------------

_json_values = st.recursive(
    _hostile_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=20,
)


@st.composite
def deep_json(draw) -> bytes:
    depth = draw(st.integers(min_value=50, max_value=3000))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
    return opener * depth + b"0" + closer * depth


def outside_payloads() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=200),
        _json_values.map(lambda v: json.dumps(v, default=str).encode()),
        deep_json(),
        st.text(max_size=200).map(str.encode),
    )


def messages(node: str) -> st.SearchStrategy[tuple[str, bytes]]:
    """(topic, payload) a misbehaving node ``node`` could send through its own ACL."""
    own = alert_topic("vw", SITE, node)
    topics = st.one_of(
        st.just(own),
        st.just(status_topic("vw", SITE, node)),
        st.just(stats_topic("vw", SITE, node)),
        st.text(alphabet="0123456789abcdef", min_size=32, max_size=32).map(
            lambda i: snapshot_topic("vw", SITE, node, i)
        ),
        st.text(max_size=30).map(lambda t: f"vw/{SITE}/{node}/{t}"),
    )
    return st.one_of(
        schema_alerts(node).map(lambda p: (own, p)),
        schema_statuses(node).map(lambda p: (status_topic("vw", SITE, node), p)),
        st.tuples(topics, outside_payloads()),
    )
