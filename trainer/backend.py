"""Keras backend set-up: quiet logs, device discovery, data parallelism.

Must run before ``keras`` is first imported, because both TensorFlow's logical
CPU devices and JAX's host device count are fixed at start-up. Training code
calls :func:`configure` first and then imports Keras-using modules.
"""

from __future__ import annotations

import contextlib
import os

from trainer.errors import ConfigError


def configure(devices: int = 0) -> None:
    """Prepare the process for ``devices`` data-parallel devices (0: automatic).

    With ``devices > 1`` and no GPU, the CPU is split into that many logical
    devices, which exercises the same data-parallel path as several GPUs.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the TF wheel logs benign CUDA noise at level 2
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if devices > 1 and os.environ["KERAS_BACKEND"] == "jax":
        flag = f"--xla_force_host_platform_device_count={devices}"
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()
    if os.environ["KERAS_BACKEND"] == "tensorflow":
        with quiet_stderr():  # the TF wheel's C++ start-up logs benign CUDA factory noise
            import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
        if devices > 1 and not tf.config.list_physical_devices("GPU"):
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(devices)])


@contextlib.contextmanager
def quiet_stderr():
    """Silence file descriptor 2 (C++ logs bypass ``sys.stderr``) for the block."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


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


def distribution_scope(devices: int = 0):
    """A context in which models built and trained are data-parallel.

    ``devices == 0`` uses every visible GPU (plain single-device training when
    there are fewer than two); ``devices == 1`` forces one device; ``N > 1``
    uses N devices (GPUs if there are enough, else logical CPU devices).
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
    if backend == "tensorflow":
        return tf.distribute.MirroredStrategy([d.name for d in found[:want]]).scope()
    import keras

    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=found[:want]))
    return contextlib.nullcontext()
