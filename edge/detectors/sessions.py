"""Where a detector's network runs: onnxruntime or OpenVINO, behind one small session type.

Both backends read the same ``.onnx`` files (fp32, or the int8 QDQ files that
``models/build_models.py quantize`` makes), so a detector only picks a file and a backend.
:class:`OrtSession` and :class:`OpenVinoSession` expose the same four things a detector uses:
``input_name``, ``input_shape``, ``output_names`` and ``run(names, feeds)``.

``detect.backend: auto`` uses OpenVINO only where it is installed *and* faster: for fp32 both
backends give the same outputs (to 1e-3), so :func:`open_session` times both once per model
file and thread count in this process (a few runs each on a blank input, ~1 s at start-up) and
keeps OpenVINO only when it is at least 10% faster. On the reference gateway (2-core AMD EPYC,
AVX-512 VNNI, shared with other work) OpenVINO fp32 was 0.7x-1.1x onnxruntime's time, depending
on load: hence a race instead of a rule. For int8 ``auto`` stays on onnxruntime: OpenVINO reads
the QDQ file differently and counted people worse (``bench/detector_accuracy.py``).
OpenVINO is an optional extra (``pip install villagewatch[openvino]``, a ~60 MB wheel).

A gateway opens each model once: :class:`SessionPool` hands every camera that runs the same
file on the same backend and threads the same session (``run`` is thread-safe on both
backends). A session per camera cost ~110 MB each once running (weights, the optimised graph
and the activation arena); shared, an added camera costs its frames and trackers only.
"""

from __future__ import annotations

import importlib.util
import logging
import statistics
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from contract.detect_settings import DetectSettings
from contract.models import check_model_file, onnx_session

log = logging.getLogger(__name__)


def openvino_installed() -> bool:
    """Whether the ``openvino`` package can be imported (without importing it)."""
    return importlib.util.find_spec("openvino") is not None


def resolve_backend(settings: DetectSettings) -> str:
    """``onnxruntime``, ``openvino``, or ``race`` (auto with fp32 and OpenVINO installed:
    :func:`open_session` times both). ``auto`` never trades accuracy for speed on its own;
    ``precision: bf16`` is OpenVINO's alone."""
    if settings.backend == "openvino" or settings.precision == "bf16":
        if not openvino_installed():
            raise RuntimeError(
                f"detect.backend {settings.backend} with precision {settings.precision} needs "
                "OpenVINO, which is not installed: pip install 'villagewatch[openvino]', or set "
                "detect.precision: fp32 and detect.backend: auto"
            )
        return "openvino"
    if settings.backend == "auto" and settings.precision == "fp32" and openvino_installed():
        return "race"
    return "onnxruntime"


class OrtSession:
    """A CPU onnxruntime session with fixed threads and sequential execution: predictable
    latency on a 2-core gateway and identical results between runs (replays are
    deterministic)."""

    backend = "onnxruntime"

    def __init__(self, path: Path, threads: int) -> None:
        self._session = onnx_session(path, threads)
        first = self._session.get_inputs()[0]
        self.input_name: str = first.name
        self.input_dtype = np.uint8 if "uint8" in first.type else np.float32
        self.input_shape: list[int | None] = [
            d if isinstance(d, int) else None for d in first.shape
        ]
        self.output_names: list[str] = [o.name for o in self._session.get_outputs()]

    def run(self, names: Sequence[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self._session.run(list(names), feeds)


class OpenVinoSession:
    """The same file compiled by OpenVINO for the CPU: ``parallel`` streams (requests that run
    at once) of ``threads`` threads each.

    ``INFERENCE_PRECISION_HINT`` is ``f32`` unless ``bf16`` is asked for: on CPUs with bf16
    (this one has AVX-512 BF16) OpenVINO would otherwise compute fp32 models in bf16 unasked,
    which moves CenterNet's scores by ~0.01. Asked for on a CPU without native bf16 (where
    OpenVINO would emulate it, slower than fp32) it computes in fp32 and logs why;
    ``precision`` says what it computes in.
    """

    backend = "openvino"

    def __init__(
        self, path: Path, threads: int, precision: str = "fp32", parallel: int = 1
    ) -> None:
        import openvino as ov

        check_model_file(path)
        core = ov.Core()
        if precision == "bf16" and "BF16" not in core.get_property(
            "CPU", "OPTIMIZATION_CAPABILITIES"
        ):
            log.warning("detect.precision bf16: this CPU has no native bf16; computing in fp32")
            precision = "fp32"
        self.precision = precision
        # One stream per caller that may run at once (the gateway's inference threads): a
        # stream runs one request at a time, so with one stream two worker threads took turns
        # (CenterNet bf16: 36 runs/s from 2 callers on 1 stream, 75 on 2).
        config = {
            "INFERENCE_NUM_THREADS": threads * parallel,
            "NUM_STREAMS": parallel,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        }
        self._compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        # One infer request per calling thread: a request holds its inputs and outputs, so
        # two threads sharing one would overwrite each other's (the compiled model is shared).
        self._local = threading.local()
        first = self._compiled.inputs[0]
        self.input_name = first.get_any_name()
        shape = first.get_partial_shape()
        self.input_shape = [d.get_length() if d.is_static else None for d in shape]
        self.output_names = [o.get_any_name() for o in self._compiled.outputs]
        self._warm_up(first)

    def _warm_up(self, first) -> None:
        """One run now, on this thread. OpenVINO's bindings set up their numpy access on
        first use, once per process, and two threads doing that at once deadlock (pybind11's
        ``gil_safe_call_once_and_store``): both inference threads of a gateway hung in their
        first run, 1 in 3 starts. It also keeps the first camera's first run from paying for
        OpenVINO's lazy set-up."""
        _ = self._compiled.create_infer_request().get_input_tensor(0).data  # numpy: set up
        if any(d is None for d in self.input_shape):
            return
        dtype = first.get_element_type().to_dtype()
        self.run(self.output_names[:1], {self.input_name: np.zeros(self.input_shape, dtype)})

    def run(self, names: Sequence[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        # share_inputs: the request reads the caller's array instead of copying it.
        result = request.infer(feeds, share_inputs=True)
        # Copies: the request reuses its output buffers on the next infer().
        return [np.array(result[self._compiled.output(name)]) for name in names]


Session = OrtSession | OpenVinoSession
#: The winner of each race, per (model file, threads): later cameras do not race again.
_RACE_WINNERS: dict[tuple[str, int], str] = {}


def _median_ms(session: Session, feed: dict[str, np.ndarray], runs: int = 5) -> float:
    names = session.output_names[:1]
    session.run(names, feed)  # warm-up: first runs allocate
    session.run(names, feed)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(names, feed)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _race(path: Path, threads: int, parallel: int) -> Session:
    """The faster of onnxruntime and OpenVINO on ``path``; OpenVINO must win by 10%."""
    key = (str(path), threads)
    if key in _RACE_WINNERS:
        if _RACE_WINNERS[key] == "openvino":
            return OpenVinoSession(path, threads, parallel=parallel)
        return OrtSession(path, threads)
    ort_session = OrtSession(path, threads)
    ov_session = OpenVinoSession(path, threads, parallel=parallel)
    shape = [d or (1 if i == 0 else 300) for i, d in enumerate(ort_session.input_shape)]
    feed = {ort_session.input_name: np.zeros(shape, dtype=ort_session.input_dtype)}
    ort_ms = _median_ms(ort_session, feed)
    ov_ms = _median_ms(ov_session, {ov_session.input_name: feed[ort_session.input_name]})
    winner = ov_session if ov_ms < 0.9 * ort_ms else ort_session
    _RACE_WINNERS[key] = winner.backend
    return winner


def open_session(path: Path, settings: DetectSettings, parallel: int = 1) -> Session:
    """A session on ``path`` with the backend ``settings`` ask for (``auto`` resolved), for
    ``parallel`` callers running it at once (onnxruntime runs concurrent calls side by side
    by itself; OpenVINO needs a stream for each)."""
    backend = resolve_backend(settings)
    if backend == "race":
        return _race(path, settings.threads, parallel)
    if backend == "openvino":
        return OpenVinoSession(path, settings.threads, settings.precision, parallel)
    return OrtSession(path, settings.threads)


class SessionPool:
    """The sessions of one gateway: one per (model file, backend choice, precision, threads),
    opened on first use and shared by every camera that asks for the same."""

    def __init__(self, parallel: int = 1) -> None:
        """``parallel``: how many runs the gateway makes at once (its inference threads)."""
        self.parallel = parallel
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str, str, str, int], Session] = {}

    def get(self, path: Path, settings: DetectSettings) -> Session:
        """The shared session on ``path`` for ``settings`` (opened now if it is the first)."""
        key = (str(Path(path).resolve()), settings.backend, settings.precision, settings.threads)
        with self._lock:  # held while opening: two cameras must not both open the file
            if key not in self._sessions:
                self._sessions[key] = open_session(Path(path), settings, self.parallel)
            return self._sessions[key]

    def __len__(self) -> int:
        return len(self._sessions)
