"""Downstream iTPN backbones: HiViT + the pre-trained pyramid replacing FPN
(docs/design/itpn.md#downstream-use-of-the-pyramid).

* :class:`iTPNDet` (mmdet, ``neck=None``): five 256-channel maps at strides 4, 8, 16, 32, 64
  (the stride-32/64 maps are 2x2 average pools of the level above).
* :class:`iTPNSeg` (mmseg): each pyramid level concatenated with the backbone stage of the same
  stride, plus a 2x2 max-pooled stride-32 map: channels ``[F + C/4, F + C/2, F + C, F + C]``
  = [384, 512, 768, 768] for iTPN-B.

Both subclass :class:`HiViT` (backbone keys at the top level, like the official det/seg code) and
hold the shared :class:`iTPNPyramid` as ``pyramid``. ``init_cfg=dict(type='Pretrained',
checkpoint=...)`` loads an HVT pre-training checkpoint (``backbone.*`` and the pyramid part of
``neck.*``), an official iTPN checkpoint, or an mmpretrain iTPN checkpoint, and warns clearly when
the checkpoint's ``fpn_depth`` differs from the model's.
"""
import re
import warnings
from collections import OrderedDict

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger

from hvt.engine.checkpoint_io import unwrap_state_dict
from hvt.engine.pretrained import (DEFAULT_MAX_MISSING_RATIO, init_with_pretrained,
                                   load_pretrained)
from hvt.models.layers.itpn_pyramid import iTPNPyramid
from hvt.models.layers.tokens import patch_tokens_to_map, square_grid
from hvt.registry import MODELS

from .base import parse_out_indices
from .hivit import HiViT, resize_pos_table, resize_rel_pos_table

PYRAMID_PREFIXES = ('align_dim_16tofpn.', 'align_dim_16to8.', 'align_dim_8to4.', 'split_16to8.',
                    'split_8to4.', 'block_16to8.', 'block_8to4.', 'fpn_modules.')


def split_itpn_state_dict(state_dict):
    """Split any iTPN state dict into ``(backbone, pyramid)`` dicts with HVT key names.

    Accepts HVT/mmpretrain layouts (``backbone.*`` + ``neck.*``) and the official single-module
    layout (top-level ``blocks.*``, ``absolute_pos_embed``, ``align_dim_16tofpn.*``, ...).
    mmpretrain's ``backbone.pos_embed`` is renamed ``absolute_pos_embed``; the official
    top-level ``relative_position_index`` buffer is dropped (HVT recomputes it).
    """
    state_dict, _ = unwrap_state_dict(state_dict, keys=('state_dict', 'model', 'module'))
    has_prefix = any(k.startswith('backbone.') for k in state_dict)
    backbone, pyramid = OrderedDict(), OrderedDict()
    for k, v in state_dict.items():
        if has_prefix:
            if k.startswith('backbone.'):
                name = k[len('backbone.'):]
                if name.startswith(PYRAMID_PREFIXES):  # det/seg wrapper checkpoints
                    pyramid[name] = v
                    continue
                if name.startswith('pyramid.'):
                    pyramid[name[len('pyramid.'):]] = v
                    continue
                backbone[name] = v
            elif k.startswith('neck.'):
                name = k[len('neck.'):]
                if name.startswith(PYRAMID_PREFIXES):
                    pyramid[name] = v
        else:
            if k.startswith(PYRAMID_PREFIXES):
                pyramid[k] = v
            elif k.startswith(('patch_embed.', 'blocks.', 'absolute_pos_embed', 'pos_embed',
                               'fc_norm.', 'mask_token')):
                backbone[k] = v
    if 'pos_embed' in backbone and 'absolute_pos_embed' not in backbone:
        backbone['absolute_pos_embed'] = backbone.pop('pos_embed')
    backbone.pop('relative_position_index', None)
    return backbone, pyramid


def checkpoint_fpn_depth(pyramid_state):
    """Number of ``block_16to8`` blocks stored in a pyramid state dict (None if absent)."""
    ks = {int(m.group(1)) for k in pyramid_state
          for m in [re.match(r'block_16to8\.(\d+)\.', k)] if m}
    return max(ks) + 1 if ks else None


def _resize_backbone_state(model, state):
    """Bicubically resize ``absolute_pos_embed`` and rpe tables whose grid differs.

    The position table goes to the model's table grid (``model.pos_embed_grid``): the input grid
    with ``pos_embed_interp='resize'``, the pre-training 14x14 grid with ``'per-forward'`` (the
    pre-trained table then loads unchanged and is interpolated on every forward instead).
    """
    own = model.state_dict()
    for k, v in list(state.items()):
        if k not in own or own[k].shape == v.shape:
            continue
        if k == 'absolute_pos_embed':
            resized = resize_pos_table(v, model.pos_embed_grid)
            if resized is not None and resized.shape == own[k].shape:
                state[k] = resized
        elif k.endswith('relative_position_bias_table'):
            side = square_grid(v.shape[0])[0]  # a square table of 2s-1 rows and columns
            state[k] = resize_rel_pos_table(v, ((side + 1) // 2, ) * 2, model.grid)
    return state


class _iTPNDownstream(HiViT):
    """HiViT + ``pyramid``; see the module docstring.

    Defaults follow the official iTPN detection / segmentation code rather than the
    classification one: ``pos_embed_interp='per-forward'`` (the 14x14 pre-training position
    table is the parameter, interpolated on every forward) and ``norm_eps=1e-5`` (PyTorch's
    default LayerNorm, used there for every norm of the backbone and the pyramid).

    The outputs are pyramid levels, so ``out_indices`` is fixed to ``(0, 1, 2)`` (the three
    stages the pyramid reads) and ``out_type`` to ``'featmap'``; ``frozen_stages`` freezes the
    HiViT part as in :class:`HiViT` (the pyramid stays trainable).
    """
    out_types = ('featmap', )

    def __init__(self, arch='base', fpn_dim=256, fpn_depth=1, num_outs=5, **kwargs):
        name = type(self).__name__
        out_indices = kwargs.setdefault('out_indices', (0, 1, 2))
        if parse_out_indices(out_indices, 3, name) != [0, 1, 2]:
            raise ValueError(f'{name}: out_indices is fixed to (0, 1, 2), the stages its pyramid '
                             f'reads; got {out_indices!r}')
        kwargs.setdefault('pos_embed_interp', 'per-forward')
        kwargs.setdefault('norm_eps', 1e-5)
        super().__init__(arch=arch, **kwargs)
        self.pyramid = iTPNPyramid(self.stage_channels, fpn_dim=fpn_dim, fpn_depth=fpn_depth,
                                   norm_eps=kwargs['norm_eps'])
        self.num_outs = num_outs

    def init_weights(self):
        if init_with_pretrained(self):  # checked load through convert_pretrained_state
            return
        super().init_weights()
        self.pyramid.init_weights()

    def convert_pretrained_state(self, state):
        """Any iTPN layout -> this module's names (pyramid as ``pyramid.*``), grids resized."""
        logger = MMLogger.get_current_instance()
        bb, pyr = split_itpn_state_dict(state)
        bb = _resize_backbone_state(self, bb)
        depth = checkpoint_fpn_depth(pyr)
        if depth is not None and depth != self.pyramid.fpn_depth:
            msg = (f'{type(self).__name__}: the checkpoint pyramid has fpn_depth={depth} but the '
                   f'model has fpn_depth={self.pyramid.fpn_depth}; ')
            msg += ('the extra checkpoint blocks are dropped.' if depth > self.pyramid.fpn_depth
                    else 'blocks without weights keep their random init.')
            warnings.warn(msg)
            logger.warning(msg)
        if not pyr:
            msg = f'{type(self).__name__}: the checkpoint has no pyramid weights'
            warnings.warn(msg)
            logger.warning(msg)
        state = OrderedDict(bb)
        state.update({f'pyramid.{k}': v for k, v in pyr.items()})
        return state

    def load_pretrained(self, checkpoint, max_missing_ratio=DEFAULT_MAX_MISSING_RATIO):
        """Load backbone and pyramid weights (path or state dict); returns the missing keys."""
        return load_pretrained(self, checkpoint, max_missing_ratio=max_missing_ratio).not_loaded

    def _pyramid_maps(self, x):
        feats, (hp, wp) = self.forward_tokens(x)
        outs = self.pyramid.forward_tokens(*feats)
        return ([patch_tokens_to_map(o, hp, wp).contiguous() for o in outs],
                [patch_tokens_to_map(f, hp, wp).contiguous() for f in feats])


@MODELS.register_module()
class iTPNDet(_iTPNDownstream):
    """Detection backbone: ``num_outs`` (3-5) 256-channel maps at strides 4 ... 64.

    Defaults follow the official COCO configs (fpn_depth 1, rpe off for B).
    """

    def __init__(self, arch='base', fpn_dim=256, fpn_depth=1, num_outs=5, **kwargs):
        if num_outs not in (3, 4, 5):
            raise ValueError(f'iTPNDet: num_outs must be 3, 4 or 5, got {num_outs}')
        super().__init__(arch, fpn_dim, fpn_depth, num_outs, **kwargs)

    def forward(self, x):
        outs, _ = self._pyramid_maps(x)
        for _ in range(self.num_outs - 3):
            outs.append(F.avg_pool2d(outs[-1], kernel_size=2, stride=2))
        return tuple(outs)


@MODELS.register_module()
class iTPNSeg(_iTPNDownstream):
    """Segmentation backbone: ``O_s ⊕ U_s`` at strides 4, 8, 16 and a max-pooled stride 32.

    Defaults follow the official ADE20K configs (fpn_depth 2, rpe on).
    """

    def __init__(self, arch='base', fpn_dim=256, fpn_depth=2, num_outs=4, rpe=True, **kwargs):
        if num_outs not in (3, 4):
            raise ValueError(f'iTPNSeg: num_outs must be 3 or 4, got {num_outs}')
        super().__init__(arch, fpn_dim, fpn_depth, num_outs, rpe=rpe, **kwargs)
        self.out_channels = [fpn_dim + c for c in self.stage_channels]
        if num_outs == 4:
            self.out_channels.append(self.out_channels[-1])

    def forward(self, x):
        outs, feats = self._pyramid_maps(x)
        outs = [torch.cat([o, f], dim=1) for o, f in zip(outs, feats)]
        if self.num_outs == 4:
            outs.append(F.max_pool2d(outs[-1], kernel_size=2, stride=2))
        return tuple(outs)
