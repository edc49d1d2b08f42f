"""Layer-wise learning-rate decay that works for HiViT / iTPN
(docs/design/itpn.md#layer-wise-learning-rate-decay).

mmpretrain 1.2.0's constructor decays nothing for HiViT (its ``get_layer_depth`` looks for
``layers``). This constructor asks the backbone for ``get_layer_depth(name, prefix, mode=...)``
(HiViT's numbering: patch embed and position embedding 0, block k -> k + 1, everything outside
the backbone ``num_layers``) and gives every parameter ``lr * decay ** (num_layers - layer_id)``.

``paramwise_cfg`` keys:
    layer_decay_rate (float): the per-layer decay (e.g. 0.60 for iTPN-B fine-tuning).
    layer_decay_mode ('official' | 'count_merge'): whether PatchMerge entries get their own id.
    layer_decay_rescale (bool): use ``decay ** (13 / num_layers)`` as in the official iTPN code,
        so a ViT-B-style decay value keeps its meaning for 31- or 43-layer backbones.
    no_decay_names (list[str]): parameter-name suffixes without weight decay, in addition to every
        1-D parameter (defaults: position embedding, mask token, rpe tables).
"""
import inspect
from typing import List

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.logging import MMLogger

from hvt.registry import OPTIM_WRAPPER_CONSTRUCTORS
from .fsdp import clean_param_name

DEFAULT_NO_DECAY = ('absolute_pos_embed', 'pos_embed', 'mask_token', 'cls_token',
                    'relative_position_bias_table', 'decoder_pos_embed')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Per-block lr groups for backbones that implement ``get_layer_depth``."""

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '', **kwargs):
        cfg = dict(self.paramwise_cfg)
        decay = cfg.get('layer_decay_rate', 1.0)
        mode = cfg.get('layer_decay_mode', 'official')
        rescale = cfg.get('layer_decay_rescale', False)
        no_decay = tuple(cfg.get('no_decay_names', DEFAULT_NO_DECAY))
        backbone = getattr(module, 'backbone', module)
        bb_prefix = 'backbone.' if backbone is not module else ''
        if not hasattr(backbone, 'get_layer_depth'):
            raise TypeError(f'{type(backbone).__name__} has no get_layer_depth(); '
                            'LayerDecayOptimWrapperConstructor cannot number its layers')
        # only backbones with more than one numbering (HiViT) take the mode
        takes_mode = 'mode' in inspect.signature(backbone.get_layer_depth).parameters
        mode_kwarg = dict(mode=mode) if takes_mode else {}
        base_wd = self.base_wd or 0.
        groups = {}
        logger = MMLogger.get_current_instance()
        num_layers = None
        ndims = getattr(module, 'hvt_param_ndims', {})  # ranks before FSDP sharding
        for name, p in module.named_parameters():
            if not p.requires_grad:
                continue
            name = clean_param_name(name)  # FSDP-wrapped models insert wrapper segments
            layer_id, num_layers = backbone.get_layer_depth(name, bb_prefix, **mode_kwarg)
            rate = decay ** (13 / num_layers) if rescale else decay
            scale = rate ** (num_layers - layer_id)
            if ndims.get(name, p.ndim) == 1 or name.split('.')[-1] in no_decay or \
                    name.endswith(no_decay):
                g, wd = 'no_decay', 0.
            else:
                g, wd = 'decay', base_wd
            key = f'layer_{layer_id}_{g}'
            if key not in groups:
                groups[key] = dict(params=[], param_names=[], lr=self.base_lr * scale,
                                   weight_decay=wd, lr_scale=scale, layer_id=layer_id)
            groups[key]['params'].append(p)
            groups[key]['param_names'].append(name)
        for key in sorted(groups, key=lambda k: (groups[k]['layer_id'], k)):
            g = groups[key]
            logger.debug(f'{key}: lr_scale={g["lr_scale"]:.4f} wd={g["weight_decay"]} '
                         f'{len(g["params"])} params')
            params.append(g)
        if num_layers is not None:
            logger.info(f'Layer decay: {num_layers + 1} layer ids, rate {decay} '
                        f'(mode {mode}, rescale {rescale})')
