"""The contract every HVT backbone keeps, written once.

The arguments mean what they mean in mmpretrain's backbones:

* ``arch``: a key of the class's ``arch_zoo`` or a dict with at least its ``arch_keys``
  (:func:`parse_arch`);
* ``out_indices``: the stages whose outputs are returned, in the order given; negative indices
  count from the last stage (``-1`` is the last);
* ``out_type``: what each returned stage is:

  - ``'featmap'``: an NCHW map;
  - ``'avg_featmap'``: a ``(B, C)`` vector, the average of the stage's tokens (followed by the
    backbone's final norm where it has one);
  - ``'cls_token'``: a ``(B, C)`` class token, only for backbones that carry one;

* ``frozen_stages``: ``-1`` freezes nothing, ``0`` the stem (patch embedding and whatever comes
  before the first stage), ``k`` the stem and the first ``k`` stages. Frozen modules have
  ``requires_grad=False`` and stay in eval mode when the model is put in train mode;
* ``norm_eval``: keep every BatchNorm in eval mode while training (running statistics frozen);
* ``with_cp``: activation checkpointing of every block while training (same outputs and
  gradients, less memory);
* ``init_cfg``: mmengine's; ``dict(type='Pretrained', checkpoint=..., prefix=...)`` loads through
  HVT's checked loader (:mod:`hvt.engine.pretrained`).

A backbone mixes :class:`BackboneContract` in before ``BaseModule``, calls
:meth:`BackboneContract.init_contract` in its constructor and says what its stem and stages
are in :meth:`~BackboneContract.stem_modules` and :meth:`~BackboneContract.stage_modules`.
``tests/test_backbone_contract.py`` checks every registered backbone against this contract.
"""
import copy
from typing import Iterable, List, Sequence, Union

from mmengine.model import BaseModule
from torch import nn

from ..layers.checkpoint import run_checkpointed
from ..layers.weight_init import set_batchnorm_eval

OUT_TYPES = ('featmap', 'avg_featmap', 'cls_token')


def parse_arch(arch: Union[str, dict], arch_zoo: dict, arch_keys: Sequence[str], name: str,
               defaults: dict = None) -> dict:
    """``arch`` as a fresh dict: a key of ``arch_zoo`` (case-insensitive) or a dict holding at
    least ``arch_keys``. ``defaults`` fill the keys a custom dict leaves out."""
    if isinstance(arch, str):
        key = arch.lower()
        if key not in arch_zoo:
            raise ValueError(f'{name}: unknown arch {arch!r}; valid: {sorted(arch_zoo)}, or a '
                             f'dict with keys {list(arch_keys)}')
        arch = arch_zoo[key]
    elif not isinstance(arch, dict):
        raise TypeError(f'{name}: arch must be a str or a dict, got {type(arch).__name__}')
    missing = [k for k in arch_keys if k not in arch]
    if missing:
        raise ValueError(f'{name}: arch dict is missing keys {missing}; needs {list(arch_keys)}')
    out = copy.deepcopy(defaults) if defaults else {}
    out.update(copy.deepcopy(dict(arch)))
    return out


def parse_out_indices(out_indices: Union[int, Sequence[int]], num_stages: int,
                      name: str) -> List[int]:
    """``out_indices`` as non-negative stage indices, order kept; negatives count from the end."""
    if isinstance(out_indices, int):
        out_indices = [out_indices]
    out = []
    for i in out_indices:
        j = i + num_stages if i < 0 else i
        if not 0 <= j < num_stages:
            raise ValueError(f'{name}: out_indices entry {i} is out of range for {num_stages} '
                             f'stages (0..{num_stages - 1}, or negative from the end)')
        out.append(j)
    return out


def init_backbone_weights(backbone, init_fn=None) -> bool:
    """The order every HVT backbone initialises in: a ``Pretrained`` ``init_cfg`` through HVT's
    checked loader, else any other ``init_cfg`` through mmengine, else ``backbone.apply(init_fn)``
    (mmengine's default when ``init_fn`` is None). True when ``init_fn`` ran, so that the caller
    can add what ``apply`` does not reach (class tokens, position tables, ...)."""
    from hvt.engine.pretrained import init_with_pretrained
    if init_with_pretrained(backbone):
        return False
    if backbone.init_cfg is not None or init_fn is None:
        BaseModule.init_weights(backbone)
        return False
    backbone.apply(init_fn)
    return True


class BackboneContract:
    """``out_indices`` / ``out_type`` / ``frozen_stages`` / ``norm_eval`` / ``with_cp`` for a
    ``BaseModule`` backbone (see the module docstring for their meaning)."""

    out_types = ('featmap', 'avg_featmap')  # the values this backbone supports
    # parameters the model itself never trains (kept with requires_grad=False by construction,
    # e.g. ViTAE's Performer random features): a name, or a name suffix after a '.'.
    # frozen_stages does not concern them.
    fixed_parameters = ()

    def init_contract(self, num_stages: int, out_indices, frozen_stages: int = -1,
                      norm_eval: bool = False, with_cp: bool = False, out_type: str = None):
        name = type(self).__name__
        self.num_stages = num_stages
        self.out_indices = parse_out_indices(out_indices, num_stages, name)
        if not isinstance(frozen_stages, int) or not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'{name}: frozen_stages must be -1 (nothing), 0 (the stem) or a '
                             f'stage count up to {num_stages}, got {frozen_stages!r}')
        self.frozen_stages = frozen_stages
        self.norm_eval = bool(norm_eval)
        self.with_cp = bool(with_cp)
        if out_type is not None:
            if out_type not in self.out_types:
                raise ValueError(f'{name}: out_type must be one of {self.out_types}, '
                                 f'got {out_type!r}')
            self.out_type = out_type

    # ------------------------------------------------------------------ what the backbone says
    def stem_modules(self) -> Iterable[Union[nn.Module, nn.Parameter]]:
        """Modules and parameters frozen by ``frozen_stages >= 0``."""
        raise NotImplementedError

    def stage_modules(self, i: int) -> Iterable[Union[nn.Module, nn.Parameter]]:
        """Modules and parameters of stage ``i`` (frozen by ``frozen_stages > i``)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared behaviour
    def frozen_modules(self) -> list:
        out = []
        if self.frozen_stages >= 0:
            out.extend(self.stem_modules())
        for i in range(min(self.frozen_stages, self.num_stages)):
            out.extend(self.stage_modules(i))
        return [m for m in out if m is not None]

    def _freeze_stages(self):
        frozen = set()
        for m in self.frozen_modules():
            if isinstance(m, nn.Parameter):
                m.requires_grad = False
                frozen.add(id(m))
                continue
            m.eval()
            for p in m.parameters():
                p.requires_grad = False
                frozen.add(id(p))
        if frozen:  # containers made only of frozen parts (a block list, the whole model) too
            for m in self.modules():
                params = list(m.parameters())
                if params and all(id(p) in frozen for p in params):
                    nn.Module.train(m, False)  # not self.eval(): that would come back here

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            set_batchnorm_eval(self)
        return self

    def run_block(self, block, *args, **kwargs):
        """``block(*args, **kwargs)``, activation-checkpointed when ``with_cp`` is on and the
        model is training (:func:`~hvt.models.layers.checkpoint.run_checkpointed`)."""
        return run_checkpointed(block, *args, enabled=self.with_cp and self.training, **kwargs)
