#!/usr/bin/env python3
"""Rebuild ``models/faceres.onnx``, the face descriptor, from npm ``@vladmandic/human`` 3.3.6.

BUILD TOOL ONLY, like ``build_models.py`` (whose pins and helpers it reuses): ``build`` needs
TensorFlow + tf2onnx + onnx from a separate conversion venv (models/README.md). The runtime
never imports it.

``build`` (conversion venv):

1. ``npm pack @vladmandic/human@3.3.6``, checked against the sha256 pins (the archive pin is
   ``build_models.SOURCES["human"]``; the two faceres files are pinned here);
2. ``tf2onnx.convert --tfjs faceres.json`` at opset 13 (no graph patch needed: the graph has
   no fused convolutions and no TopKV2);
3. keeps only the descriptor: ``onnx.utils.extract_model`` from ``input_1:0`` to
   ``global_pooling/Mean`` (the 1024-D average pool). Age and gender heads are dropped: we
   neither need nor want to estimate them;
4. stamps source and licence metadata into the file;
5. ``measure`` with the runtime interpreter: latency, and the accuracy of
   ``bench/face_accuracy.py`` with this file; it also saves the real face crops it fed;
6. TensorFlow parity: the TF.js graph imported into TensorFlow itself (its weights dequantised
   by tf2onnx's own reader) against the ONNX file, on those crops and on random input;
7. writes ``faceres.provenance.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(HERE)]

from build_models import (  # noqa: E402
    OPSET,
    SOURCES,
    _cpu_name,
    _session,
    _time,
    check_sha,
    log,
    onnx_io_spec,
    run,
    sha256,
    stamp_metadata,
    tf2onnx,
)

OUT_NAME = "faceres.onnx"
INPUT, OUTPUT = "input_1:0", "global_pooling/Mean"
FILES = {
    "package/models/faceres.json": (
        "5b83d49c0385d2e68a05122441b94226313677cae9fcc40b9587ad50079eb4df"
    ),
    "package/models/faceres.bin": (
        "2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b"
    ),
}
DESCRIPTION = (
    "HSE-FaceRes face descriptor (from @vladmandic/human), descriptor output only. Input "
    "input_1:0 [N,224,224,3] float32 RGB 0..255 (a square face crop). Output global_pooling/Mean "
    "[N,1024] float32 >= 0; L2-normalise and compare by cosine (contract/face_descriptor.py)."
)


def fetch(work: Path) -> Path:
    """The extracted npm package, checked against the pins."""
    src = SOURCES["human"]
    dl = work / "dl"
    dl.mkdir(parents=True, exist_ok=True)
    archive = dl / src["archive"]
    if not archive.exists():
        run(["npm", "pack", f"{src['package']}@{src['version']}", "--pack-destination", str(dl)])
    check_sha(archive, src["archive_sha256"], src["archive"])
    root = dl / "human_faceres_x"
    with tarfile.open(archive) as tf:
        members = [m for m in tf.getmembers() if m.name in (*FILES, src["licence_file"])]
        tf.extractall(root, members=members, filter="data")
    for rel, digest in FILES.items():
        check_sha(root / rel, digest, rel)
    return root


def convert(root: Path, work: Path, out: Path) -> dict:
    import onnx
    import onnx.utils

    full = work / "faceres_full.onnx"
    json_path = root / "package/models/faceres.json"
    tf2onnx(["--tfjs", str(json_path), "--output", str(full), "--opset", str(OPSET)])
    onnx.utils.extract_model(str(full), str(out), [INPUT], [OUTPUT])
    onnx.checker.check_model(onnx.load(str(out)))
    return {
        "command": "tf2onnx.convert --tfjs faceres.json --output faceres_full.onnx "
        f"--opset {OPSET}",
        "then": f"onnx.utils.extract_model(faceres_full.onnx, {OUT_NAME}, "
        f"['{INPUT}'], ['{OUTPUT}'])",
        "dropped_outputs": ["gender_pred/Sigmoid:0", "age_pred/Softmax:0"],
        "weights_note": "the TF.js weights are float16-quantised; tf2onnx dequantises them to "
        "float32, so the ONNX file is ~1.8x the .bin",
    }


def tf_parity(json_path: Path, onnx_path: Path, crops_npz: Path) -> dict:
    """Run the TF.js graph in TensorFlow itself and the ONNX file on the same inputs."""
    import numpy as np
    import tensorflow as tf
    from google.protobuf import json_format

    if not hasattr(np, "product"):
        np.product = np.prod  # tf2onnx 1.17's weight reader still calls it
    from tf2onnx import tfjs_utils

    model = json.loads(json_path.read_text())
    data = json_path.with_suffix(".bin").read_bytes()
    weights, offset = {}, 0
    for w in model["weightsManifest"][0]["weights"]:
        name, arr, n = tfjs_utils.read_tfjs_weight(w, data, offset=offset)
        weights[name], offset = arr, offset + n
    gd = tf.compat.v1.GraphDef()
    for node in model["modelTopology"]["node"]:
        node = {k: v for k, v in node.items() if k != "device"}
        if node["op"] == "Const":
            value = weights[node["name"]]
            dtype = tf.as_dtype(value.dtype).as_datatype_enum
            attr = {
                "dtype": tf.compat.v1.AttrValue(type=dtype),
                "value": tf.compat.v1.AttrValue(tensor=tf.make_tensor_proto(value)),
            }
            gd.node.append(tf.compat.v1.NodeDef(name=node["name"], op="Const", attr=attr))
        else:
            gd.node.append(json_format.ParseDict(node, tf.compat.v1.NodeDef()))
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(gd, name="")
    crops = np.load(crops_npz)["crops"].astype(np.float32)
    rand = np.random.default_rng(0).uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)
    ort = _session(str(onnx_path))
    result = {}
    for label, x in (("real_face_crops", crops), ("uniform_random_0_255", rand)):
        with tf.compat.v1.Session(graph=graph) as s:
            ref = s.run(OUTPUT + ":0", {INPUT: x})
        got = ort.run([OUTPUT], {INPUT: x})[0]
        cos = (ref * got).sum(1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1))
        result[label] = {
            "inputs": len(x),
            "max_abs_diff": float(np.abs(ref - got).max()),
            "max_abs_value": float(np.abs(ref).max()),
            "min_cosine_tf_vs_onnx": round(float(cos.min()), 7),
        }
    return result


def measure(models_dir: Path, crops_out: Path | None) -> dict:
    """Runtime venv: latency and the face accuracy bench with the freshly built file."""
    import cv2
    import numpy as np
    import onnxruntime

    sys.path[:0] = [str(REPO)]
    from bench.face_accuracy import SWEEP, carphone_frames, score
    from contract.face_descriptor import FaceDescriber, face_crop

    describer = FaceDescriber(models_dir).load()
    frames = carphone_frames()
    crops = [face_crop(frames[i], describer.faces(frames[i])[0]) for i in (0, 40, 80)]
    batch = np.stack([cv2.cvtColor(c, cv2.COLOR_BGR2RGB) for c in crops]).astype(np.float32)
    if crops_out:
        np.savez_compressed(crops_out, crops=batch)
    session = _session(str(models_dir / OUT_NAME))
    timing = _time(lambda: session.run([OUTPUT], {INPUT: batch[:1]}))
    result = score(describer)
    g = np.array(result.genuine)
    return {
        "runtime": {
            "onnxruntime": onnxruntime.__version__,
            "numpy": np.__version__,
            "opencv": cv2.__version__,
            "python": platform.python_version(),
            "cpu": _cpu_name(),
            "threads": 1,
            "load_average_1m": os.getloadavg()[0],
        },
        "latency_one_face_1_thread": timing,
        "accuracy": {
            "bench": "bench/face_accuracy.py (carphone man enrolled from frame 0; astronaut, "
            "camera as impostors)",
            "genuine_similarity": {
                "frames": len(g),
                "min": round(float(g.min()), 3),
                "median": round(float(np.median(g)), 3),
            },
            "impostor_max_similarity": {k: round(max(v), 3) for k, v in result.impostor.items()},
            "sweep": {
                f"{t:.2f}": dict(zip(("true_match", "false_match"), result.rates(t), strict=True))
                for t in SWEEP
            },
        },
    }


def provenance(out: Path, root: Path, conv: dict, verification: dict) -> dict:
    """The provenance JSON written next to the model."""
    import numpy as np
    import onnx
    import tensorflow as tf
    import tf2onnx as _t2o

    src = SOURCES["human"]
    return {
        "file": OUT_NAME,
        "sha256": sha256(out),
        "size_bytes": out.stat().st_size,
        "built_at_utc": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        "source": {
            "registry": "npm",
            "package": src["package"],
            "version": src["version"],
            "fetch_command": f"npm pack {src['package']}@{src['version']}",
            "archive": src["archive"],
            "archive_sha256": src["archive_sha256"],
            "files": [
                {"path_in_package": rel, "sha256": d, "size_bytes": (root / rel).stat().st_size}
                for rel, d in FILES.items()
            ],
            "licence": "MIT",
            "licence_file_in_package": src["licence_file"],
            "licence_text_first_line": (root / src["licence_file"]).read_text().splitlines()[0],
            "upstream": "HSE-FaceRes (https://github.com/HSE-asavchenko/HSE_FaceRec_tf), "
            "TF.js conversion by vladmandic; human's src/face/faceres.ts feeds it",
        },
        "conversion": {
            "tools": {
                "python": platform.python_version(),
                "tensorflow": tf.__version__,
                "tf2onnx": _t2o.__version__,
                "onnx": onnx.__version__,
                "numpy": np.__version__,
                "build_script": "models/build_faceres.py",
            },
            **conv,
        },
        "onnx": onnx_io_spec(out),
        "spec": {
            "input": "square face crop, 224x224, RGB, float32 0..255, NHWC (human's "
            "faceres.ts: resizeBilinear of the 0..1 face tensor, times 255)",
            "crop": "contract/face_descriptor.py face_crop: centred on the CenterFace box, "
            "side 1.2x its longer side, edge pixels repeated, bilinear",
            "output": "1024 values >= 0 (average of ReLU maps); L2-normalise, cosine",
        },
        "verification": verification,
    }


def build(args) -> None:

    work, out_dir = Path(args.work_dir).resolve(), Path(args.out_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    out = out_dir / OUT_NAME
    root = fetch(work)
    conv = convert(root, work, out)
    src = SOURCES["human"]
    stamp_metadata(
        out,
        {
            "description": DESCRIPTION,
            "source": f"npm {src['package']}=={src['version']} :: {', '.join(FILES)}",
            "licence": "MIT (licence of the source package; see provenance JSON)",
            "built_by": "VillageWatch models/build_faceres.py",
        },
    )
    crops, mjson = work / "faceres_crops.npz", work / "faceres_measure.json"
    run(
        [
            args.runtime_python,
            str(Path(__file__).resolve()),
            "measure",
            "--models-dir",
            str(out_dir),
            "--crops-out",
            str(crops),
            "--json-out",
            str(mjson),
        ]
    )
    meas = json.loads(mjson.read_text())
    parity = tf_parity(root / "package/models/faceres.json", out, crops)
    prov = provenance(out, root, conv, {"tensorflow_parity": parity, **meas})
    (out_dir / "faceres.provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    log(f"wrote {OUT_NAME} ({prov['size_bytes']} bytes, sha256 {prov['sha256']})")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd")
    b = sub.add_parser("build", help="fetch, convert, verify, write provenance (conversion venv)")
    b.add_argument("--work-dir", default="/tmp/models-work/faceres")
    b.add_argument("--out-dir", default=str(HERE))
    b.add_argument("--runtime-python", default=str(REPO / ".venv/bin/python"))
    m = sub.add_parser("measure", help="internal: latency and accuracy (runtime venv)")
    m.add_argument("--models-dir", default=str(HERE))
    m.add_argument("--crops-out", default=None)
    m.add_argument("--json-out", default=None)
    a = ap.parse_args()
    if a.cmd == "build":
        build(a)
    elif a.cmd == "measure":
        r = measure(Path(a.models_dir), Path(a.crops_out) if a.crops_out else None)
        text = json.dumps(r, indent=2)
        if a.json_out:
            Path(a.json_out).write_text(text)
        print(text)
    else:
        ap.print_help()


if __name__ == "__main__":
    sys.exit(main())
