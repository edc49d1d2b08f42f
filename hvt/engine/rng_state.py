"""Exact continuation after ``--resume``: random-number-generator state in the checkpoint.

mmengine restores weights, optimizer, schedulers and the message hub, but not the RNGs that the
data pipeline (random crops, flips, RandAugment, ...) and stochastic layers (drop path, dropout)
draw from. A resumed run therefore sees different augmentations than an uninterrupted one.
:class:`RNGStateHook` (in ``default_hooks`` of ``configs/_base_/default_runtime.py``) saves the
Python, numpy and torch generator states with every checkpoint and restores them on resume, at
the point where the uninterrupted run would continue:

* epoch-based loops: at ``before_train`` (the resumed run starts a new epoch, as the
  uninterrupted run did right after saving);
* iteration-based loops: after mmengine has advanced the data iterator past the iterations
  already trained (that skip runs the pipeline and consumes randomness of its own).

The state is stored as plain lists of ints, so loading needs no extra pickle globals. With several
processes, only rank 0's generators are saved and restored; other ranks restart from their seed.
"""
import random

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from hvt.registry import HOOKS

KEY = 'hvt_rng_state'


def get_rng_state() -> dict:
    np_state = np.random.get_state()
    state = dict(
        python=[random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
        numpy=[np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]),
               float(np_state[4])],
        torch=torch.get_rng_state().tolist(),
    )
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict) -> None:
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(torch.tensor(state['torch'], dtype=torch.uint8))
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state['cuda']])


class _RestoreAfter:
    """Iterator proxy: restores ``state`` once ``skip`` items have been drawn, then delegates."""

    def __init__(self, iterator, skip, state):
        self._iterator, self._skip, self._state = iterator, skip, state

    def __iter__(self):
        return self

    def __next__(self):
        if self._skip == 0 and self._state is not None:
            set_rng_state(self._state)
            self._state = None
        self._skip -= 1
        return next(self._iterator)

    def __getattr__(self, name):
        return getattr(self._iterator, name)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the RNG states with each checkpoint; restore them on resume (see module doc)."""

    priority = 'VERY_LOW'

    def __init__(self):
        self._pending = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[KEY] = get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Only a resume (not `load_from` fine-tuning) continues a run's randomness.
        if runner._resume and get_rank() == 0:
            self._pending = checkpoint.get(KEY)

    def before_train(self, runner) -> None:
        state, self._pending = self._pending, None
        if state is None:
            return
        loop = runner.train_loop
        skip = getattr(loop, '_iter', 0) if hasattr(loop, 'dataloader_iterator') else 0
        if skip > 0:
            loop.dataloader_iterator = _RestoreAfter(loop.dataloader_iterator, skip, state)
        else:
            set_rng_state(state)
