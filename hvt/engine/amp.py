"""Mixed precision on the CPU: bf16 autocast, no loss scale (``--amp`` without a GPU).

mmengine's ``AmpOptimWrapper`` refuses to start without a CUDA / NPU / MLU / MUSA device, and its
gradient scaler only exists for fp16. bf16 has fp32's exponent range, so gradients neither
overflow nor underflow for lack of scaling; the wrapper only has to run the forward (and the loss)
under ``torch.autocast('cpu', dtype=torch.bfloat16)``. Where an op needs more than bf16 gives, the
model keeps it in fp32 itself (``docs/design/mixed_precision.md``).
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper

from hvt.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` autocasts the CPU forward to ``dtype`` (bf16)."""

    def __init__(self, *args, dtype='bfloat16', **kwargs):
        super().__init__(*args, **kwargs)
        self.cast_dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        if self.cast_dtype not in (torch.bfloat16, torch.float16):
            raise ValueError(f'CPUAmpOptimWrapper: dtype must be bfloat16 or float16, '
                             f'got {dtype!r}')

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast('cpu', dtype=self.cast_dtype):
            yield
