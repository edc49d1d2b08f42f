"""Stop on a NaN or Inf loss with the iteration number and every loss term."""
import math

import torch

from mmengine.hooks import Hook

from hvt.registry import HOOKS


@HOOKS.register_module()
class CheckInvalidLossHook(Hook):
    """Like mmdet's ``CheckInvalidLossHook`` (usable in every task), with an error that says where
    and which term.

    Raises ``FloatingPointError('non-finite loss at iteration 123 (epoch 2): loss=nan,
    loss_cls=nan, loss_bbox=0.41')``. Checking every iteration (the default here) costs a few
    float comparisons: the terms are already computed for logging.
    """

    priority = 'VERY_HIGH'

    def __init__(self, interval: int = 1):
        self.interval = interval

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not outputs or not self.every_n_train_iters(runner, self.interval):
            return
        terms = {k: float(v.detach() if torch.is_tensor(v) else v)
                 for k, v in outputs.items() if 'loss' in k and _is_number(v)}
        if any(not math.isfinite(v) for v in terms.values()):
            detail = ', '.join(f'{k}={v:.4g}' for k, v in terms.items())
            raise FloatingPointError(
                f'non-finite loss at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): '
                f'{detail}. Lower the learning rate, enable gradient clipping '
                '(optim_wrapper.clip_grad), or check the data of this batch.')


def _is_number(v):
    try:
        float(v.detach() if torch.is_tensor(v) else v)
        return True
    except (TypeError, ValueError, RuntimeError):
        return False
