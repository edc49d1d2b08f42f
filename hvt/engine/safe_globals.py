"""Resume mmengine checkpoints under torch >= 2.6 without turning off ``weights_only``.

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7 checkpoints pickle a
few non-tensor objects in their ``meta`` (the message hub's ``HistoryBuffer``, numpy scalars,
arrays and dtypes), so ``--resume`` fails with ``Unsupported global: ...HistoryBuffer``.
:func:`register_safe_globals` allow-lists exactly those globals with
``torch.serialization.add_safe_globals``; everything else stays forbidden. On torch < 2.6 (no
weights-only default) it is not needed.

One entry needs care: the message hub pickles ``HistoryBuffer``'s statistics methods (``min``,
``max``, ``mean``, ``current``) as ``getattr(HistoryBuffer, 'min')``. Allowing ``builtins.getattr``
itself would let a crafted file reach any attribute (module globals included), so the name
``builtins.getattr`` is bound to :func:`_history_buffer_getattr`, which resolves only those
methods and refuses everything else.

Legacy pickles that need more (e.g. official checkpoints holding an ``argparse.Namespace``) are
loaded only by the converters in ``tools/model_converters``, and only with ``--trust-pickle``.
"""
import pickle

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


def _history_buffer_getattr(obj, name):
    """``getattr`` restricted to ``HistoryBuffer``'s registered statistics methods."""
    from mmengine.logging.history_buffer import HistoryBuffer
    allowed = set(HistoryBuffer._statistics_methods) | {'min', 'max', 'mean', 'current'}
    if (obj is HistoryBuffer or isinstance(obj, HistoryBuffer)) and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'weights-only load: refusing getattr({obj!r}, {name!r}); only HistoryBuffer statistics '
        'methods are allowed')


def register_safe_globals() -> bool:
    """Allow-list :func:`mmengine_checkpoint_globals` once per process. Returns True if applied."""
    global _REGISTERED
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:
        return False
    if not _REGISTERED:
        add(mmengine_checkpoint_globals())
        try:  # (callable, name) pairs: torch >= 2.6
            add([(_history_buffer_getattr, 'builtins.getattr')])
        except (TypeError, ValueError, AttributeError):
            pass
        _REGISTERED = True
    return True
