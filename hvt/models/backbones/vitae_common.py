"""What ViTAE (isotropic, ``vitae.py``) and ViTAEv2 (pyramid, ``vitaev2.py``) share.

* :class:`ViTAEBase`: the backbone contract (:mod:`.base`) over the official ``layers.{i}``
  (one ``ViTAEBasicLayer`` per stage), the official initialisation and the ``Pretrained`` loading
  of official checkpoints;
* :func:`official_drop_path_rates`: the official per-stage slicing of the stochastic-depth rates;
* the official-checkpoint conversion used by that loading and by
  ``tools/model_converters/vitae2hvt.py``: :func:`convert_official_vitae`,
  :func:`add_relative_position_index` and :func:`state_keys`.

The stem of both families is the image-to-token embedding of the first stage: the PRM of the first
Reduction Cell (``layers.0.RC.PRM``), or for ViTAE-B/L/H the whole patch-embedding cell
(``layers.0.RC``: patch projection, class token and position embedding).
"""
import re
from collections import OrderedDict

from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from torch import nn

from hvt.engine.checkpoint_io import unwrap_state_dict
from ..layers.drop import drop_path_rates
from ..layers.vitae_cells import PatchEmbedCell
from ..layers.window import relative_position_index
from .base import BackboneContract, init_backbone_weights

# official releases hold EMA weights next to the raw ones: prefer them
STATE_KEYS = ('state_dict_ema', 'model_ema', 'model', 'state_dict', 'module')


def state_keys(use_ema: bool = True) -> tuple:
    """The keys an official checkpoint keeps its weights under, in order of preference (for
    :func:`~hvt.engine.checkpoint_io.unwrap_state_dict`); ``use_ema=False`` skips the EMA ones."""
    return STATE_KEYS if use_ema else tuple(k for k in STATE_KEYS if 'ema' not in k)


def official_drop_path_rates(drop_path_rate: float, depths) -> list:
    """Stochastic-depth rates per stage with the official slicing quirk
    (docs/design/vitae.md#stochastic-depth-slicing).

    The rates are the usual ``linspace(0, rate, sum(depths))``, but stage ``i`` takes the slice
    that starts at the *previous stage's depth* ``d_{i-1}`` (not at the cumulative sum):
    ``rates[d_{i-1} : d_{i-1} + d_i]``.
    """
    rates = drop_path_rates(drop_path_rate, [sum(depths)])[0]
    starts = [0] + list(depths[:-1])
    return [rates[s:s + d] for s, d in zip(starts, depths)]


def vitae_init(m: nn.Module) -> None:
    """The official classification init, for ``module.apply``: Linear trunc-normal(0.02) / 0,
    LayerNorm 1 / 0; convolutions and BatchNorms keep the PyTorch defaults.

    mmengine's ``trunc_normal_`` draws with timm's inverse-CDF method, as the official code does
    (``torch.nn.init.trunc_normal_`` of recent PyTorch samples differently, so
    :func:`~hvt.models.layers.weight_init.init_vit_weights` would change every seeded init).
    """
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=.02)
        if m.bias is not None:
            nn.init.constant_(m.bias, 0)
    elif isinstance(m, nn.LayerNorm):
        nn.init.constant_(m.weight, 1.0)
        nn.init.constant_(m.bias, 0)


def convert_official_vitae(ckpt, prefix=None, use_ema=True):
    """Official ViTAE / ViTAEv2 weights -> HVT backbone + ``head.*`` weights.

    * takes ``state_dict_ema`` / ``model`` / ``state_dict`` (:func:`state_keys`; strict: a
      checkpoint without weights raises a ``KeyError`` listing its top-level keys) and strips
      ``module.``; with ``prefix`` (e.g. ``'backbone.'``) keeps only the keys under it;
    * drops the ``relative_position_index`` / ``attn_mask`` buffers of the window attentions
      (HVT rebuilds them; they are not persistent);
    * renames ``attn.relative_position_bias_table`` (official RPE, unused by the paper models)
      to ``attn.rel_pos_bias.relative_position_bias_table``.

    Every other key is already identical. Returns an ``OrderedDict``.
    """
    state, _ = unwrap_state_dict(ckpt, state_keys(use_ema), strict=True)
    out = OrderedDict()
    for k, v in state.items():
        if prefix:
            if not k.startswith(prefix):
                continue
            k = k[len(prefix):]
        if k.endswith('relative_position_index') or k.endswith('attn_mask'):
            continue
        k = re.sub(r'attn\.relative_position_bias_table$',
                   'attn.rel_pos_bias.relative_position_bias_table', k)
        out[k] = v
    return out


def add_relative_position_index(state, window_size=7, stages=(0, 1)):
    """Re-create the official (unused) ``relative_position_index`` buffers of the window
    attentions of ``stages`` (HVT -> official direction)."""
    out = OrderedDict()
    pat = re.compile(r'^(layers\.(\d+)\.(?:RC\.attn\.attn|NC\.\d+\.attn))\.qkv\.weight$')
    for k, v in state.items():
        out[k] = v
        m = pat.match(k)
        if m and int(m.group(2)) in stages:
            out[f'{m.group(1)}.relative_position_index'] = relative_position_index(window_size)
    return out


class ViTAEBase(BackboneContract, BaseModule):
    """The contract over ``self.layers`` (stage ``i`` is ``layers[i]``: its RC and its NCs),
    the official initialisation and ``Pretrained`` loading of official checkpoints.

    Subclasses build ``self.layers``, call :meth:`init_contract` and end their constructor with
    :meth:`init_official`. Output norms listed in ``_last_stage_extras`` (attribute names) belong
    to the last stage.
    """

    _last_stage_extras = ()
    pretrained_state_keys = STATE_KEYS

    def init_official(self):
        """The official classification init (Linear trunc-normal(0.02) / 0, LayerNorm 1 / 0,
        convolutions keep the PyTorch defaults), then the frozen stages."""
        self.apply(vitae_init)
        self._freeze_stages()

    def stem_modules(self):
        rc = self.layers[0].RC
        return [rc if isinstance(rc, PatchEmbedCell) else rc.PRM]

    def stage_modules(self, i):
        out = [self.layers[i]]
        if i == self.num_stages - 1:
            out += [getattr(self, name, None) for name in self._last_stage_extras]
        return out

    def init_weights(self):
        # a Pretrained init_cfg through HVT's checked loader (official checkpoints converted by
        # convert_pretrained_state), else mmengine's; the official init ran in the constructor
        init_backbone_weights(self)

    def convert_pretrained_state(self, state):
        """Official ViTAE / ViTAEv2 key names -> HVT's (see :func:`convert_official_vitae`)."""
        return convert_official_vitae(state)
