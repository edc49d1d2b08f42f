"""HVT's additions to mmengine: crash-safe checkpoints, safe and exact resume, layer decay,
official weights by name."""
from .amp import CPUAmpOptimWrapper
from .invalid_loss import CheckInvalidLossHook
from .layer_decay import LayerDecayOptimWrapperConstructor
from .pretrained import PretrainedInit, load_pretrained, load_state_dict_checked
from .rng_state import RNGStateHook
from .safe_checkpoint import AtomicLocalBackend, SafeCheckpointHook, atomic_write
from .safe_globals import register_safe_globals
from .weights import fetch, get_entry, resolve  # registers the official: scheme

register_safe_globals()

__all__ = ['AtomicLocalBackend', 'CPUAmpOptimWrapper', 'SafeCheckpointHook', 'atomic_write',
           'register_safe_globals',
           'LayerDecayOptimWrapperConstructor', 'RNGStateHook', 'CheckInvalidLossHook',
           'PretrainedInit', 'load_pretrained', 'load_state_dict_checked', 'fetch', 'get_entry',
           'resolve']
