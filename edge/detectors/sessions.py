"""Where a detector's network runs: onnxruntime or OpenVINO, behind one small session type.

Both backends read the same ``.onnx`` files (fp32, or the int8 QDQ files that
``models/build_models.py quantize`` makes), so a detector only picks a file and a backend.
:class:`OrtSession` and :class:`OpenVinoSession` expose the same four things a detector uses:
``input_name``, ``input_shape``, ``output_names`` and ``run(names, feeds)``.

``detect.backend: auto`` takes OpenVINO when it is installed and the precision is fp32: on the
reference gateway (2-core AMD EPYC with AVX-512 VNNI) it ran fp32 CenterNet ~1.4x faster than
onnxruntime with the same outputs to 1e-3 (``bench/detector_accuracy.py`` measures it again).
OpenVINO is an optional extra (``pip install villagewatch[openvino]``, a ~60 MB wheel).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from contract.detect_settings import DetectSettings


def openvino_installed() -> bool:
    """Whether the ``openvino`` package can be imported (without importing it)."""
    return importlib.util.find_spec("openvino") is not None


def resolve_backend(settings: DetectSettings) -> str:
    """``onnxruntime`` or ``openvino`` for these settings; ``auto`` resolved.

    ``auto`` is OpenVINO for fp32 when installed. For int8 it stays onnxruntime: OpenVINO ran
    our int8 CenterNet faster but it counted people worse than fp32 (see the bench), so ``auto``
    never trades accuracy on its own."""
    if settings.backend == "openvino":
        if not openvino_installed():
            raise RuntimeError(
                "detect.backend is openvino but the openvino package is not installed: "
                "pip install 'villagewatch[openvino]', or set detect.backend: auto"
            )
        return "openvino"
    if settings.backend == "auto" and settings.precision == "fp32" and openvino_installed():
        return "openvino"
    return "onnxruntime"


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError(
            f"detector model not found: {path} (build it with models/build_models.py "
            "or set VILLAGEWATCH_MODELS to the folder holding it)"
        )


class OrtSession:
    """A CPU onnxruntime session with fixed threads and sequential execution: predictable
    latency on a 2-core gateway and identical results between runs (replays are
    deterministic)."""

    backend = "onnxruntime"

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort  # imported here so the other edge modules load without it

        _check_file(path)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(path), sess_options=so, providers=["CPUExecutionProvider"]
        )
        first = self._session.get_inputs()[0]
        self.input_name: str = first.name
        self.input_shape: list[int | None] = [
            d if isinstance(d, int) else None for d in first.shape
        ]
        self.output_names: list[str] = [o.name for o in self._session.get_outputs()]

    def run(self, names: Sequence[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self._session.run(list(names), feeds)


class OpenVinoSession:
    """The same file compiled by OpenVINO for the CPU, one stream of ``threads`` threads.

    ``INFERENCE_PRECISION_HINT f32``: on CPUs with bf16 (this one has AVX-512 BF16) OpenVINO
    would otherwise compute fp32 models in bf16, which moved CenterNet's scores by ~0.01.
    """

    backend = "openvino"

    def __init__(self, path: Path, threads: int) -> None:
        import openvino as ov

        _check_file(path)
        core = ov.Core()
        config = {
            "INFERENCE_NUM_THREADS": threads,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32",
        }
        self._compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        self._request = self._compiled.create_infer_request()
        first = self._compiled.inputs[0]
        self.input_name = first.get_any_name()
        shape = first.get_partial_shape()
        self.input_shape = [d.get_length() if d.is_static else None for d in shape]
        self.output_names = [o.get_any_name() for o in self._compiled.outputs]

    def run(self, names: Sequence[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        result = self._request.infer(feeds)
        # Copies: the request reuses its output buffers on the next infer().
        return [np.array(result[self._compiled.output(name)]) for name in names]


Session = OrtSession | OpenVinoSession


def open_session(path: Path, settings: DetectSettings) -> Session:
    """A session on ``path`` with the backend ``settings`` ask for (``auto`` resolved)."""
    if resolve_backend(settings) == "openvino":
        return OpenVinoSession(path, settings.threads)
    return OrtSession(path, settings.threads)
