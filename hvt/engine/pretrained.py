"""Loading pre-trained weights into a backbone, with a summary and a fit check.

mmengine's ``Pretrained`` initializer loads with ``strict=False`` and only logs what did not match,
so a checkpoint of another architecture or width silently leaves most of a model random. Every HVT
backbone instead handles ``init_cfg=dict(type='Pretrained' or 'hvt.Pretrained', checkpoint=...,
prefix=None, max_missing_ratio=0.5, trust_pickle=False)`` through :func:`load_pretrained`:

* tensors whose shape differs from the model's are skipped (not an opaque ``size mismatch``);
* a summary (counts and the first names of missing, unexpected and shape-mismatched keys, with
  both shapes) is logged;
* if more than ``max_missing_ratio`` of the module's parameter elements received no checkpoint
  tensor, a ``ValueError`` names the checkpoint and repeats the summary.

The weights are taken from ``state_dict`` / ``model`` / ``module`` (``module.`` prefixes
stripped), then ``prefix`` selects a sub-module. A backbone whose checkpoints need renaming or
resizing defines
``convert_pretrained_state(state_dict) -> state_dict`` (ViTAE, iTPN, Fast-iTPN); the others load
the (unwrapped, prefix-stripped) state dict as it is. ``type='hvt.Pretrained'`` is also registered
as a weight initializer, for modules outside HVT. Note that mmengine runs any initializer other
than its own ``'Pretrained'`` *before* the children's ``init_weights``, so on a module with
children that initialise themselves use it on the children (e.g. the backbone), not the parent.
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import torch
from mmengine.logging import MMLogger

from hvt.registry import WEIGHT_INITIALIZERS
from .checkpoint_io import load_checkpoint_file, unwrap_state_dict
from .weights import resolve

PRETRAINED_TYPES = ('Pretrained', 'hvt.Pretrained')
DEFAULT_MAX_MISSING_RATIO = 0.5
SHOW = 5  # names listed per category
# where the weights sit in a checkpoint (first match); a backbone may override it with a
# ``pretrained_state_keys`` attribute (ViTAE prefers the official EMA weights)
STATE_KEYS = ('state_dict', 'model', 'module')


@dataclass
class LoadReport:
    """What a :func:`load_state_dict_checked` call loaded and what it did not."""
    module: str
    source: str
    loaded: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)  # model keys absent from the checkpoint
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, tuple, tuple]] = field(default_factory=list)  # (key, ckpt, model)
    missing_ratio: float = 0.0  # of the module's parameter elements left without a tensor

    @property
    def not_loaded(self) -> List[str]:
        """Model keys that kept their previous values (missing or shape-mismatched)."""
        return self.missing + [k for k, _, _ in self.mismatched]

    @property
    def clean(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self) -> str:
        def names(keys):
            more = f', ... (+{len(keys) - SHOW})' if len(keys) > SHOW else ''
            return ', '.join(keys[:SHOW]) + more

        parts = [f'{self.module}: {len(self.loaded)} tensors of {self.source!r} fit; '
                 f'{self.missing_ratio:.1%} of the parameters not loaded']
        if self.missing:
            parts.append(f'missing {len(self.missing)}: {names(self.missing)}')
        if self.unexpected:
            parts.append(f'unexpected {len(self.unexpected)}: {names(self.unexpected)}')
        if self.mismatched:
            shown = [f'{k} (checkpoint {tuple(c)} vs model {tuple(m)})'
                     for k, c, m in self.mismatched]
            parts.append(f'shape mismatch {len(self.mismatched)}: {names(shown)}')
        return '; '.join(parts)


def load_state_dict_checked(module: torch.nn.Module, state: dict, source: str = '<state dict>',
                            max_missing_ratio: Optional[float] = DEFAULT_MAX_MISSING_RATIO,
                            logger=None) -> LoadReport:
    """Load ``state`` into ``module`` (shape mismatches skipped), log a summary, and raise
    ``ValueError`` if more than ``max_missing_ratio`` of the parameters got nothing (``None``:
    never raise)."""
    logger = logger or MMLogger.get_current_instance()
    own = module.state_dict()
    report = LoadReport(type(module).__name__, source)
    fitting = {}
    for k, v in state.items():
        if k not in own:
            report.unexpected.append(k)
        elif tuple(v.shape) != tuple(own[k].shape):
            report.mismatched.append((k, tuple(v.shape), tuple(own[k].shape)))
        else:
            fitting[k] = v
    report.loaded = list(fitting)
    report.missing = [k for k in own if k not in state]
    params = dict(module.named_parameters())
    total = sum(p.numel() for p in params.values())
    absent = sum(p.numel() for k, p in params.items() if k not in fitting)
    report.missing_ratio = absent / total if total else 0.0
    if max_missing_ratio is not None and report.missing_ratio > max_missing_ratio:
        raise ValueError(
            f'pretrained checkpoint {source!r} does not fit {report.module}: '
            f'{report.missing_ratio:.1%} of its parameters would stay unloaded (limit '
            f'max_missing_ratio={max_missing_ratio}). Is it a checkpoint of another architecture '
            'or variant, or is `prefix` wrong? Raise max_missing_ratio in the init_cfg to accept '
            f'a partial load. {report.summary()}')
    module.load_state_dict(fitting, strict=False)
    if report.clean:
        logger.info(report.summary())
    else:
        logger.warning(report.summary())
    return report


def read_checkpoint(checkpoint, trust_pickle: bool = False, map_location='cpu') -> dict:
    """A checkpoint dict from a dict, ``official:NAME`` (:mod:`hvt.engine.weights`), a local path
    (weights-only, see ``checkpoint_io``) or a
    URL / ``torchvision://`` / ``open-mmlab://`` name (mmengine's loaders)."""
    if isinstance(checkpoint, dict):
        return checkpoint
    checkpoint = resolve(checkpoint)  # official:NAME -> the cached, converted file
    if osp.isfile(checkpoint) or '://' not in checkpoint:
        return load_checkpoint_file(checkpoint, trust_pickle=trust_pickle,
                                    map_location=map_location)
    from mmengine.runner.checkpoint import CheckpointLoader
    return CheckpointLoader.load_checkpoint(checkpoint, map_location=map_location)


def load_pretrained(module: torch.nn.Module, checkpoint, prefix: Optional[str] = None,
                    max_missing_ratio: Optional[float] = DEFAULT_MAX_MISSING_RATIO,
                    trust_pickle: bool = False, map_location='cpu') -> LoadReport:
    """Load ``checkpoint`` (path, URL or dict) into ``module``; see the module docstring."""
    source = checkpoint if isinstance(checkpoint, str) else '<state dict>'
    if isinstance(checkpoint, str):
        checkpoint = resolve(checkpoint)  # official:NAME -> the cached file; name both
        if checkpoint != source:
            source = f'{source} = {checkpoint}'
    keys = getattr(module, 'pretrained_state_keys', STATE_KEYS)
    state, _ = unwrap_state_dict(read_checkpoint(checkpoint, trust_pickle, map_location), keys)
    if prefix:
        picked = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not picked:
            heads = sorted({k.split('.')[0] + '.' for k in state})
            raise ValueError(f'pretrained checkpoint {source!r}: no key starts with prefix '
                             f'{prefix!r}; its keys start with {heads[:10]}')
        state = picked
    convert = getattr(module, 'convert_pretrained_state', None)
    if convert is not None:
        state = convert(state)
    return load_state_dict_checked(module, state, source, max_missing_ratio)


def pretrained_init_cfg(module) -> Optional[dict]:
    """``module.init_cfg`` if it asks for pre-trained weights, else ``None``."""
    cfg = getattr(module, 'init_cfg', None)
    if isinstance(cfg, dict) and cfg.get('type') in PRETRAINED_TYPES:
        return cfg
    return None


def init_with_pretrained(module) -> bool:
    """For a backbone's ``init_weights``: if its init_cfg is ``Pretrained``, run the backbone's
    own initialisation (``init_weights`` without the init_cfg), then load the checkpoint with
    :func:`load_pretrained`, and return ``True``; otherwise return ``False``."""
    cfg = pretrained_init_cfg(module)
    if cfg is None:
        return False
    module.init_cfg = None
    try:
        module.init_weights()
    finally:
        module.init_cfg = cfg
    args = {k: v for k, v in cfg.items() if k != 'type'}
    PretrainedInit(**args)(module)
    module._is_init = True
    return True


@WEIGHT_INITIALIZERS.register_module(name='Pretrained')
class PretrainedInit:
    """``init_cfg=dict(type='hvt.Pretrained', checkpoint, prefix=None, max_missing_ratio=0.5,
    trust_pickle=False, map_location='cpu')``: :func:`load_pretrained` as an initializer."""

    def __init__(self, checkpoint, prefix=None, max_missing_ratio=DEFAULT_MAX_MISSING_RATIO,
                 trust_pickle=False, map_location='cpu'):
        if max_missing_ratio is not None and not 0 <= max_missing_ratio <= 1:
            raise ValueError(f'max_missing_ratio must lie in [0, 1] (or be None), '
                             f'got {max_missing_ratio!r}')
        self.checkpoint = checkpoint
        self.prefix = prefix
        self.max_missing_ratio = max_missing_ratio
        self.trust_pickle = trust_pickle
        self.map_location = map_location

    def __call__(self, module):
        load_pretrained(module, self.checkpoint, self.prefix, self.max_missing_ratio,
                        self.trust_pickle, self.map_location)
        if hasattr(module, '_params_init_info'):
            from mmengine.model.weight_init import update_init_info
            update_init_info(module, init_info=f'hvt.Pretrained: load from {self.checkpoint}')
