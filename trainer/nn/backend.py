"""Keras backend set-up: quiet logs, device discovery, data parallelism.

Must run before ``keras`` is first imported, because both TensorFlow's logical
CPU devices and JAX's host device count are fixed at start-up. Training code
calls :func:`configure` first and then imports Keras-using modules.

TensorFlow and jaxlib each link their own copy of XLA. Importing TensorFlow
into a JAX process (Keras seeds TensorFlow whenever it is installed; the
TensorBoard callback and the converter write through it) makes both copies
register the same CUDA factories, and their C++ start-up lines bypass
``sys.stderr``. :func:`tensorflow` is the one place TensorFlow is imported:
with the logging variables set first and fd 2 filtered of the known benign
lines during that import only.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import re
import sys
import tempfile

from trainer.errors import ConfigError

QUIET_ENV = {  # read by the C++ libraries at load time, so set before the first import
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's and jaxlib's own C++ logs
    "GRPC_VERBOSITY": "ERROR",  # gRPC, linked into TensorFlow
}
# C++ start-up lines known to be benign: a second XLA registering its factories,
# CUDA probing on a machine without a GPU, CPU-feature and oneDNN notices.
BENIGN = re.compile(
    r"absl::InitializeLog|Unable to register cu\w+ factory|computation placer already registered"
    r"|failed call to cuInit|Could not find cuda drivers|cudart stub|TF-TRT Warning"
    r"|Could not find TensorRT|oneDNN custom operations|rebuild TensorFlow with the appropriate"
    r"|This TensorFlow binary is optimized")


def configure(devices: int = 0) -> None:
    """Prepare the process for ``devices`` data-parallel devices (0: automatic).

    With ``devices > 1`` and no GPU, the CPU is split into that many logical
    devices, which exercises the same data-parallel path as several GPUs.
    """
    quiet_env()
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if devices > 1 and os.environ["KERAS_BACKEND"] == "jax":
        flag = f"--xla_force_host_platform_device_count={devices}"
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()
    if os.environ["KERAS_BACKEND"] == "tensorflow":
        tf = tensorflow()
        if devices > 1 and not tf.config.list_physical_devices("GPU"):
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(devices)])


def quiet_env() -> None:
    """Set the C++ libraries' logging variables (:data:`QUIET_ENV`) unless already set."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


@functools.cache
def tensorflow():
    """TensorFlow, imported quietly once; ``None`` where it is not installed.

    Under another Keras backend TensorFlow is only a library (``tf.summary``,
    ``tf_keras``): its GPUs are hidden from it, so that it neither takes their
    memory from JAX nor logs their start-up. An import that fails shows
    everything it printed.
    """
    if importlib.util.find_spec("tensorflow") is None:
        return None
    quiet_env()
    with quiet_stderr():
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")  # CUDA start-up logs now, filtered
        if gpus and os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
            with contextlib.suppress(RuntimeError):  # already initialised by someone else
                tf.config.set_visible_devices([], "GPU")
    tf.get_logger().setLevel("ERROR")
    return tf


def seed(value: int) -> None:
    """``keras.utils.set_random_seed``: Python, NumPy, Keras and, where installed, TensorFlow.

    Keras imports TensorFlow to seed it whenever it is installed, under any
    backend; importing it here first keeps that import quiet.
    """
    tensorflow()
    import keras

    keras.utils.set_random_seed(value)


@contextlib.contextmanager
def quiet_stderr(benign: re.Pattern = BENIGN):
    """Filter file descriptor 2 (C++ logs bypass ``sys.stderr``) for the block.

    What the block writes to fd 2 is held back, then written out without the
    lines ``benign`` matches; if the block raises, all of it is written out.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    held = tempfile.TemporaryFile()
    failed = True
    try:
        os.dup2(held.fileno(), 2)
        yield
        failed = False
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        held.seek(0)
        lines = held.read().decode(errors="replace").splitlines(keepends=True)
        held.close()
        kept = "".join(line for line in lines if failed or not benign.search(line))
        if kept:
            sys.stderr.write(kept)
            sys.stderr.flush()


def name() -> str:
    import keras

    return keras.backend.backend()


def describe() -> str:
    """A short description of the accelerator(s) training will use."""
    gpus = _gpus()
    return f"{name()} on {len(gpus)} GPU(s)" if gpus else f"{name()} on CPU"


def _gpus() -> list:
    if name() == "tensorflow":
        import tensorflow as tf

        return tf.config.list_logical_devices("GPU")
    if name() == "jax":
        import jax

        return [d for d in jax.devices() if d.platform == "gpu"]
    return []


def distribution_scope(devices: int = 0, batch_size: int | None = None):
    """A context in which models built and trained are data-parallel.

    ``devices == 0`` uses every visible GPU (plain single-device training when
    there are fewer than two); ``devices == 1`` forces one device; ``N > 1``
    uses N devices (GPUs if there are enough, else logical CPU devices). Each
    device holds all the weights and takes an equal share of every batch, so
    ``batch_size`` must be a multiple of the device count.
    """
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        found = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    elif backend == "jax":
        import jax

        found = jax.devices()
    else:
        raise ConfigError(f"backend {backend!r} is not supported; use tensorflow or jax")
    want = devices or (len(found) if _gpus() else 1)
    if want > len(found):
        raise ConfigError(f"--devices: asked for {want} devices, found {len(found)}")
    if want < 2:
        return contextlib.nullcontext()
    if batch_size is not None and batch_size % want:
        raise ConfigError(f"--batch-size {batch_size} cannot be split evenly over {want} "
                          f"devices; use a multiple of {want}")
    if backend == "tensorflow":
        return tf.distribute.MirroredStrategy([d.name for d in found[:want]]).scope()
    import keras

    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=found[:want]))
    return contextlib.nullcontext()
