"""int8 versions of the two object detectors: onnxruntime static quantization, calibrated on
real footage. BUILD TOOL ONLY (``python models/build_models.py quantize``); the runtime never
imports it.

Why these settings (onnxruntime's quantization guide):

* **QDQ format** (QuantizeLinear/DequantizeLinear pairs around each quantized op): the format
  onnxruntime recommends for CPU, and the one OpenVINO reads as an int8 model too.
* **Activations uint8, weights int8 (U8S8), per-channel weights**: the combination the guide
  recommends for CNNs on x86-64; with AVX-512 VNNI (this machine) U8S8 needs no
  ``reduce_range``. Per-channel keeps depthwise convolutions (MobileNet) accurate.
* **The post-processing stays fp32.** Both graphs end in it (CenterNet's sigmoid heat-map,
  peaks, TopK and box decoding; SSDLite's box decoding and NMS loop), and its values are
  the scores and coordinates the thresholds look at. CenterNet: every op up to its two heads
  is quantized (MobileNetV3's hard-swish Mul/Add/Clip between the convolutions too: with
  only the convolutions in int8, each one is wrapped in de-/re-quantization and layout
  transposes, and the model was no faster than fp32). SSDLite: Conv and MatMul only (its
  TF OD API graph mixes pre-processing and decoding into the backbone).
* **MinMax calibration** on frames of vtest.avi that are *not* evaluation frames (see
  :func:`calibration_frames`), pre-processed exactly as the detectors do.
* ``quant_pre_process`` first (shape inference + graph optimisation), as the guide advises.

The calibration frames are named in the provenance JSON, with every tool version and the
sha256 of the source model and of the output.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LABELS = REPO / "tests" / "data" / "vtest_people_counts.json"

FP32 = {
    "centernet": "centernet_mobilenetv3_coco.onnx",
    "ssdlite": "ssdlite_mobilenetv2_person.onnx",
}
INT8 = {
    "centernet": "centernet_mobilenetv3_coco.int8.onnx",
    "ssdlite": "ssdlite_mobilenetv2_person.int8.onnx",
}
#: Calibration: every 10th vtest.avi frame from 3, minus those near a labelled frame.
CALIB_START, CALIB_STEP, CALIB_GAP = 3, 10, 4
#: Op types quantized per model (None: every type onnxruntime can quantize).
OP_TYPES: dict[str, list[str] | None] = {"centernet": None, "ssdlite": ["Conv", "MatMul"]}
#: CenterNet's head outputs: every node after them is post-processing and stays fp32.
CENTERNET_HEADS = ("tower_0/keypoints", "tower_0/wh")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def evaluation_frames() -> set[int]:
    """Every vtest frame index with a hand count (ours and the earlier excerpt labels)."""
    data = json.loads(LABELS.read_text())
    return {int(k) for k in data["counts"]} | {
        int(k) for k in data["earlier_labels_in_repo"]["counts"]
    }


def calibration_frames(total: int = 795) -> list[int]:
    """vtest frames 3, 13, 23, ... that lie more than CALIB_GAP frames from any evaluation frame.

    At 10 fps, 5 frames apart is half a second: people have moved, but the scene and lighting
    are the same, which is what calibration needs (activation ranges), without the evaluation
    frames themselves."""
    held_out = evaluation_frames()
    return [
        i
        for i in range(CALIB_START, total, CALIB_STEP)
        if all(abs(i - j) > CALIB_GAP for j in held_out)
    ]


def centernet_blob(bgr):
    """Exactly edge.detectors.centernet's whole-frame input: keep aspect, pad grey to 512."""
    import cv2
    import numpy as np

    h, w = bgr.shape[:2]
    scale = 512 / max(h, w)
    rw, rh = max(1, round(w * scale)), max(1, round(h * scale))
    x = cv2.resize(bgr, (rw, rh), interpolation=cv2.INTER_LINEAR)
    x = cv2.copyMakeBorder(x, 0, 512 - rh, 0, 512 - rw, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    return cv2.cvtColor(x, cv2.COLOR_BGR2RGB).astype(np.float32)[None]


def ssdlite_blob(bgr):
    """Exactly edge.detectors.ssdlite's input: stretch to 300x300, RGB uint8."""
    import cv2

    small = cv2.resize(bgr, (300, 300), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)[None]


def read_frames(video: Path, indices: list[int]) -> dict:
    import cv2

    cap = cv2.VideoCapture(str(video))
    want, out, i = set(indices), {}, 0
    while len(out) < len(want):
        ok, frame = cap.read()
        if not ok:
            raise SystemExit(f"{video} ended at frame {i}, before {max(want)}")
        if i in want:
            out[i] = frame
        i += 1
    return out


def post_processing_nodes(model_path: Path, heads: tuple[str, ...]) -> list[str]:
    """Names of the nodes that make ``heads`` final (the sigmoid) or read them, transitively."""
    import onnx

    graph = onnx.load(str(model_path)).graph
    readers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    found = {node.name for node in graph.node if set(node.output) & set(heads)}
    todo = list(heads)
    while todo:
        for node in readers.get(todo.pop(), []):
            if node.name not in found:
                found.add(node.name)
                todo.extend(node.output)
    return sorted(found)


def quantize_one(key: str, fp32: Path, out: Path, frames: dict, work: Path) -> dict:
    """Pre-process, calibrate and quantize one model; returns what was done."""
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    blob = centernet_blob if key == "centernet" else ssdlite_blob
    name = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter([{name: blob(f)} for _, f in sorted(frames.items())])

        def get_next(self):
            return next(self._it, None)

    pre = work / f"{key}.pre.onnx"
    # SSDLite's TF OD API graph (loops, dynamic sizes) defeats symbolic shape inference;
    # ONNX's own shape inference and the optimiser still run.
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=(key == "ssdlite"))
    options = {"ActivationSymmetric": False, "WeightSymmetric": True}
    exclude = post_processing_nodes(pre, CENTERNET_HEADS) if key == "centernet" else []
    quantize_static(
        str(pre),
        str(out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=OP_TYPES[key],
        nodes_to_exclude=exclude,
        per_channel=True,
        reduce_range=False,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options=options,
    )
    return {
        "tool": "onnxruntime.quantization.quant_pre_process + quantize_static",
        "quant_format": "QDQ",
        "activation_type": "QUInt8",
        "weight_type": "QInt8",
        "per_channel": True,
        "reduce_range": False,
        "op_types_to_quantize": OP_TYPES[key] or "all that onnxruntime quantizes",
        "nodes_excluded_post_processing": exclude,
        "calibrate_method": "MinMax",
        "extra_options": options,
        "pre_process": "quant_pre_process(skip_symbolic_shape=%s)" % (key == "ssdlite"),
        "input_preprocessing": blob.__doc__,
    }


def quantize(video: Path, models_dir: Path, work: Path) -> None:
    """Write both int8 models and their provenance JSON into ``models_dir``."""
    import cv2
    import numpy as np
    import onnx
    import onnxruntime as ort

    work.mkdir(parents=True, exist_ok=True)
    calib = calibration_frames()
    frames = read_frames(video, calib)
    tools = {
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
        "onnx": onnx.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "build_script": "models/build_models.py quantize (models/quantize_models.py)",
    }
    for key in ("centernet", "ssdlite"):
        src, out = models_dir / FP32[key], models_dir / INT8[key]
        how = quantize_one(key, src, out, frames, work)
        prov = {
            "file": out.name,
            "sha256": _sha256(out),
            "size_bytes": out.stat().st_size,
            "built_at_utc": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
            "source_model": {
                "file": src.name,
                "sha256": _sha256(src),
                "provenance": Path(src.name).stem + ".provenance.json",
            },
            "quantization": how,
            "calibration_set": {
                "name": "vtest-every-10th-from-3-minus-labelled",
                "video": "vtest.avi, Debian opencv-doc 4.6.0+dfsg-12",
                "video_sha256": _sha256(video),
                "rule": f"frames {CALIB_START}, {CALIB_START + CALIB_STEP}, ... < 795, dropping "
                f"any within {CALIB_GAP} frames of an evaluation frame in "
                "tests/data/vtest_people_counts.json",
                "frames": calib,
                "count": len(calib),
            },
            "tools": tools,
            "machine": f"{platform.system()} {platform.machine()}",
            "spec": "inputs, outputs and decoding are the fp32 model's (see its provenance JSON)",
        }
        (models_dir / (Path(out.name).stem + ".provenance.json")).write_text(
            json.dumps(prov, indent=2) + "\n"
        )
        print(
            f"[quantize] wrote {out.name} ({prov['size_bytes']} bytes, sha256 {prov['sha256']})",
            flush=True,
        )
