"""Cache-sized pieces for wide per-token and per-image layers, written once.

A feed-forward network at a high-resolution stage writes hidden activations of tens of MiB (the
Dual-ViT-S stage-1 pixel FFN: 8 x 3136 x 512 floats = 51 MiB at batch 8). Once such a tensor no
longer fits in the last-level cache, every elementwise pass over it (GELU, the depthwise conv, a
LayerNorm) runs at memory speed. Measured on the 2-core CPU this project is benchmarked on
(``docs/benchmark.md``): in Dual-ViT-S inference at batch 16, one stage-1 pixel-FFN call took
121 ms in one piece and 51 ms in pieces of two images, and the whole forward went from 1.28-1.39 s
to 0.98 s. Train steps at batch 8 gain only 1-3% (the backward dominates them).

:func:`chunked` runs such a layer on pieces along one dimension whose widest intermediate stays
under :data:`CHUNK_BYTES`, and concatenates the results. It is only used where every output row
depends on its own input row alone (per-token MLPs, per-image convolutions without batch
statistics), so the result equals the one-piece result up to float rounding (tested in
``tests/test_layers.py``). Small inputs take the one-piece path unchanged.

The pieces are a CPU tuning (last-level cache, oneDNN kernels): tensors on any other device
(CUDA, or ``meta`` in the tests) always run the layer as one call, e.g. one ``nn.Linear`` on all
tokens or one fused attention on the whole batch, which is what a GPU kernel wants
(``tests/test_device_paths.py``).
"""
from typing import Callable

import torch

# Largest intermediate (bytes) one piece may write. Tensors up to twice this size are not split
# (two pieces of a tensor that already fits gain nothing). 0 turns splitting off everywhere
# (the plain reference path, e.g. in a test or a benchmark).
CHUNK_BYTES = 16 * 2**20


def cpu_tuned(x: torch.Tensor) -> bool:
    """Whether ``x`` takes the CPU-tuned paths (cache-sized pieces, channels-last for oneDNN).

    Only CPU tensors do; on a GPU each of those choices would cost extra kernel launches or
    layout copies for nothing."""
    return x.device.type == 'cpu'


def chunked(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, item_bytes: int,
            dim: int = 0, min_items: int = 1) -> torch.Tensor:
    """``fn(x)``, computed on pieces of ``x`` along ``dim`` and concatenated along ``dim``.

    Args:
        fn: a function that treats the entries of ``dim`` independently.
        x: the input.
        item_bytes: bytes of the widest intermediate ``fn`` writes per entry of ``dim``.
        dim: the dimension to split.
        min_items: the smallest piece (e.g. 2 images: oneDNN's depthwise convolution takes a
            slow path for a single channels-last image).
    """
    n = x.shape[dim]
    if not cpu_tuned(x) or CHUNK_BYTES <= 0 or n * item_bytes <= 2 * CHUNK_BYTES:
        return fn(x)
    per = max(min_items, CHUNK_BYTES // max(item_bytes, 1))
    if per >= n:
        return fn(x)
    return torch.cat([fn(piece) for piece in x.split(per, dim)], dim)


def chunked_tokens(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                   hidden: int) -> torch.Tensor:
    """:func:`chunked` for a per-token layer on ``(..., C)`` whose widest intermediate has
    ``hidden`` channels: the leading dimensions are flattened into one token dimension."""
    lead = x.shape[:-1]
    out = chunked(fn, x.reshape(-1, x.shape[-1]), hidden * x.element_size())
    return out.reshape(*lead, out.shape[-1])
