"""Activation checkpointing under one condition, for every backbone and layer."""
import torch
import torch.utils.checkpoint as cp


def run_checkpointed(fn, *args, enabled: bool, **kwargs):
    """``fn(*args, **kwargs)``, recomputed in the backward pass instead of keeping its
    activations when ``enabled`` (pass ``with_cp and self.training``) and autograd is recording.

    The non-reentrant checkpoint gives the same outputs and gradients as the plain call (random
    state such as drop path is replayed), also when no input needs a gradient.
    """
    if enabled and torch.is_grad_enabled():
        return cp.checkpoint(fn, *args, use_reentrant=False, **kwargs)
    return fn(*args, **kwargs)
