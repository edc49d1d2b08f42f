"""Whole-model checkpoints of the official downstream code, for ``tools/model_converters``.

The official ViTAE / ViTAEv2, Dual-ViT and iTPN repositories train their detection, segmentation
and pose models with mmdet 2.x, mmseg 0.x and mmpose 0.x; HVT runs mmdet 3.x, mmseg 1.x and
mmpose 1.x. A converter splits such a checkpoint into the ``backbone.*`` part (converted with the
family's own rules) and the rest, which :func:`convert_heads` maps to the new libraries:

* **mmdet 2.x -> 3.x**: unchanged. The necks and heads HVT's configs use (FPN, RPNHead,
  StandardRoIHead / CascadeRoIHead with Shared2FC / ConvFC bbox heads and FCNMaskHead, RetinaNet,
  ATSS, GFL, Sparse R-CNN) kept their attribute names: mmdet 3.3's own model zoo (its
  ``configs/*/metafile.yml``) still lists the v2.0 checkpoints for these detectors.
* **mmseg 0.x -> 1.x**: unchanged (``decode_head.*`` / ``auxiliary_head.*`` of UPerHead and
  FCNHead; mmseg 1.2 likewise lists the v0.x UperNet checkpoints).
* **mmpose 0.x -> 1.x**: the TopDown detector's ``keypoint_head.*`` (TopdownHeatmapSimpleHead)
  becomes ``head.*`` (HeatmapHead). ``deconv_layers.*`` keep their indices; an old
  ``final_layer.<n>.*`` (extra conv layers before the last conv) becomes ``conv_layers.<n>.*``,
  its last conv ``final_layer.*`` -- the rule of HeatmapHead's own load hook.

Layouts of detectron2 / detrex (``proposal_generator.*``, ``roi_heads.*``, ``backbone.bottom_up.*``,
``backbone.net.*``, DETR-style ``transformer.*`` / ``class_embed.*``) have no key-compatible
mmdet 3.x counterpart: :func:`detect_framework` raises :class:`UnsupportedLayout` for them, and
the converters offer ``--mode backbone`` instead.
"""
import importlib
import re
from collections import OrderedDict

import torch

FRAMEWORK_HEADS = OrderedDict([
    ('mmpose', ('keypoint_head.', )),
    ('mmseg', ('decode_head.', 'auxiliary_head.')),
    # a detector always has one of these (a bare ``neck.`` is also an mmpretrain self-supervised
    # model's, so it does not mark a detector)
    ('mmdet', ('rpn_head.', 'roi_head.', 'bbox_head.')),
])
FOREIGN_MARKERS = (  # the more specific first: a detrex model also has detectron2 backbones
    ('detrex / DETR-style', ('transformer.', 'class_embed.', 'bbox_embed.', 'label_enc.',
                             'query_embed.')),
    ('detectron2', ('proposal_generator.', 'roi_heads.', 'backbone.bottom_up.', 'backbone.net.',
                    'sem_seg_head.')),
)
WHOLE_LAYOUT_HELP = ('whole detection / segmentation / pose model: mmdet 2.x (Mask R-CNN, '
                     'Cascade Mask R-CNN, ...), mmseg 0.x (UperNet), mmpose 0.x (TopDown '
                     'SimpleBaseline) -> mmdet 3.x / mmseg 1.x / mmpose 1.x keys')


class UnsupportedLayout(ValueError):
    """A checkpoint layout that cannot be converted to an HVT whole model."""


def detect_framework(state, source='<checkpoint>', backbone_mode='--mode backbone'):
    """``'mmdet'`` / ``'mmseg'`` / ``'mmpose'`` for a whole-model state dict (``backbone.*`` plus
    that library's head keys), ``None`` for anything else (a bare backbone, a classifier, a
    self-supervised model).
    Raises :class:`UnsupportedLayout` for detectron2 / detrex checkpoints, pointing to the
    converter's backbone-only mode ``backbone_mode``."""
    keys = list(state)
    for name, markers in FOREIGN_MARKERS:
        hits = sorted({m for k in keys for m in markers if k.startswith(m)})
        if hits:  # the first (most specific) framework that matches
            raise UnsupportedLayout(
                f'{source}: a {name} checkpoint (keys under {", ".join(hits)}). Its heads have no '
                'key-compatible mmdet 3.x / mmseg 1.x counterpart, so it cannot be converted to '
                f'an HVT whole model. Convert the backbone alone with {backbone_mode} (pick its '
                'keys with --prefix, e.g. backbone.net. or backbone.bottom_up.) and fine-tune '
                'the HVT config from it.')
    if not any(k.startswith('backbone.') for k in keys):
        return None
    for name, heads in FRAMEWORK_HEADS.items():
        if any(k.startswith(heads) for k in keys):
            return name
    return None


def split_backbone(state, prefix='backbone.'):
    """``(backbone, rest)``: the keys under ``prefix`` (prefix removed) and all the others."""
    backbone, rest = OrderedDict(), OrderedDict()
    for k, v in state.items():
        if k.startswith(prefix):
            backbone[k[len(prefix):]] = v
        else:
            rest[k] = v
    return backbone, rest


def _mmpose_head_key(name, n_final):
    """``keypoint_head.<name>`` (mmpose 0.x) -> ``head.<name>`` (mmpose 1.x HeatmapHead)."""
    m = re.match(r'^final_layer\.(\d+)\.(.+)$', name)
    if m:
        idx, param = int(m.group(1)), m.group(2)
        return f'final_layer.{param}' if idx == n_final else f'conv_layers.{idx}.{param}'
    return name


def convert_heads(rest, framework):
    """The non-backbone keys of a ``framework`` whole model, renamed for mmdet 3.x / mmseg 1.x /
    mmpose 1.x (see the module docstring)."""
    if framework in ('mmdet', 'mmseg'):
        return OrderedDict(rest)
    if framework != 'mmpose':
        raise ValueError(f'unknown framework {framework!r}')
    finals = [int(m.group(1)) for k in rest
              for m in [re.match(r'^keypoint_head\.final_layer\.(\d+)\.', k)] if m]
    n_final = max(finals) if finals else None
    out = OrderedDict()
    for k, v in rest.items():
        if k.startswith('keypoint_head.'):
            k = 'head.' + _mmpose_head_key(k[len('keypoint_head.'):], n_final)
        out[k] = v
    return out


def build_from_config(config, device='meta'):
    """The model of an HVT config (any library, by its ``default_scope``), without pre-trained
    weights or feature teachers, built on ``device`` (``'meta'``: shapes only, no memory)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import hvt.models  # noqa: F401  (registers HVT's modules)
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    scope = cfg.get('default_scope', 'mmengine')
    init_default_scope(scope)
    registry = importlib.import_module(f'{scope}.registry').MODELS
    model_cfg = cfg.model
    if model_cfg.get('backbone') is not None:
        model_cfg.backbone.init_cfg = None
    model_cfg.pop('target_generator', None)
    with torch.device(device):
        return registry.build(model_cfg)


def compare_state(state, model):
    """``(missing, unexpected, mismatched)`` of ``state`` against ``model.state_dict()`` -- what a
    strict ``load_state_dict`` would refuse; ``mismatched`` holds ``(key, state shape, model
    shape)``."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in own.items()
                  if k in state and tuple(state[k].shape) != tuple(v.shape)]
    return missing, unexpected, mismatched


def verify_against_config(state, config, log=print):
    """Check ``state`` against the model of ``config`` (strictly: no missing, unexpected or
    shape-mismatched key); report the differences through ``log``; return True when it fits."""
    missing, unexpected, mismatched = compare_state(state, build_from_config(config))
    for title, keys in (('missing', missing), ('unexpected', unexpected),
                        ('shape mismatch (checkpoint vs model)', mismatched)):
        if keys:
            log(f'{title} ({len(keys)}): {keys[:20]}{" ..." if len(keys) > 20 else ""}')
    ok = not (missing or unexpected or mismatched)
    log(f'strict load into {config}: {"OK" if ok else "FAILED"}')
    return ok
