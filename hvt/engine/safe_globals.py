"""Resume mmengine checkpoints under torch >= 2.6 without turning off ``weights_only``.

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7 checkpoints pickle a
few non-tensor objects in their ``meta`` (the message hub's ``HistoryBuffer``, numpy scalars,
arrays and dtypes), so ``--resume`` fails with ``Unsupported global: ...HistoryBuffer``.
:func:`register_safe_globals` allow-lists exactly those globals with
``torch.serialization.add_safe_globals``; everything else stays forbidden. On torch < 2.6 (no such
API, no weights-only default) it does nothing.

Legacy pickles that need more (e.g. official checkpoints holding an ``argparse.Namespace``) are
loaded only by the converters in ``tools/model_converters``, and only with ``--trust-pickle``.
"""
import numpy as np
import torch

_REGISTERED = False


def mmengine_checkpoint_globals() -> list:
    """The globals an mmengine 0.10 training checkpoint pickles besides tensors and containers."""
    from mmengine.logging.history_buffer import HistoryBuffer
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [type(np.dtype(t)) for t in (
        np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8,
        np.bool_)]
    return [HistoryBuffer, scalar, _reconstruct, np.ndarray, np.dtype, *dtype_classes]


def register_safe_globals() -> bool:
    """Allow-list :func:`mmengine_checkpoint_globals` once per process. Returns True if applied."""
    global _REGISTERED
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:
        return False
    if not _REGISTERED:
        add(mmengine_checkpoint_globals())
        _REGISTERED = True
    return True
