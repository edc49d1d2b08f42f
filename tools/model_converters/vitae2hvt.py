"""Convert official ViTAE / ViTAEv2 checkpoints (github.com/ViTAE-Transformer) to HVT.

Layouts handled (``--mode``; without it, a whole downstream model is detected from its keys and
anything else is treated as a classifier):

* ``--mode cls``: ImageNet checkpoints (``Image-Classification/vitae``, ``.../vitaev2``;
  ``layers.*``, ``fc_norm``, ``head`` under ``model`` / ``state_dict_ema``) -> mmpretrain
  ImageClassifier keys (``backbone.*``, ``head.fc.*``); ``--arch`` checks them strictly.
* ``--mode backbone``: the same (or, with ``--prefix backbone.``, any whole model) -> bare
  backbone keys, for a backbone ``init_cfg=dict(type='Pretrained', ...)``.
* ``--mode whole``: ViTAEv2 Mask R-CNN / Cascade Mask R-CNN (``Object-Detection``, mmdet 2.x),
  UperNet (``Semantic-Segmentation``, mmseg 0.x), AP-10K SimpleBaseline
  (``Animal-Pose-Estimation``, mmpose 0.x) -> the whole HVT model of ``--config`` (mmdet 3.x /
  mmseg 1.x / mmpose 1.x keys), checked strictly against it.
* refused: detectron2 / detrex whole models (their heads have no mmdet 3.x counterpart; convert
  the backbone with ``--mode backbone --prefix ...``).

    # ImageNet classifier
    python tools/model_converters/vitae2hvt.py ViTAEv2-S.pth.tar vitaev2-s_in1k.pth \
        --mode cls --arch vitaev2-s
    # backbone only (bare keys, for a backbone init_cfg Pretrained)
    python tools/model_converters/vitae2hvt.py ViTAEv2-S.pth.tar vitaev2-s_backbone.pth \
        --mode backbone
    # whole downstream models, checked strictly against the matching HVT config
    python tools/model_converters/vitae2hvt.py mask_rcnn_vitaev2_s_3x.pth mask-rcnn.pth \
        --mode whole --config configs/vitaev2/mask-rcnn_vitaev2-s_fpn_3x_coco.py
    python tools/model_converters/vitae2hvt.py upernet_vitaev2_s.pth upernet.pth \
        --mode whole --config configs/vitaev2/upernet_vitaev2-s_8xb2-160k_ade20k-512x512.py
    python tools/model_converters/vitae2hvt.py vitaev2_s_ap10k.pth td-hm.pth \
        --mode whole --config configs/vitaev2/td-hm_vitaev2-s_8xb64-210e_ap10k-256x256.py

HVT keeps the official parameter names (``layers.{i}.RC.*``, ``layers.{i}.NC.{k}.*``,
``fc_norm.*``, ``head.*``), so converting is mostly bookkeeping:

* the weights are taken from ``state_dict_ema`` (the EMA weights, which the official downstream
  code loads; ``--no-ema`` takes ``model``), else ``model`` / ``state_dict``; ``module.`` and
  (``--prefix``) ``backbone.`` prefixes are removed;
* the window attentions' ``relative_position_index`` (and ``attn_mask``) buffers are dropped: HVT
  rebuilds them, and the paper models do not use a relative position bias. ``--to-official``
  goes the other way and re-creates them for the window stages;
* an official ``attn.relative_position_bias_table`` becomes
  ``attn.rel_pos_bias.relative_position_bias_table``, except in the pose models, whose window
  attentions create the table but never read it (``Animal-Pose-Estimation/ViTAEv2/window.py``):
  there it is dropped;
* ``--pad-pcm`` zero-pads 1x1 PCM kernels (MAE pre-training of ViTAE-B/L/H) to 3x3;
* whole models: the backbone part as above, the necks and heads renamed for the new libraries
  (:mod:`hvt.engine.whole_model`: mmdet / mmseg keys are unchanged, mmpose ``keypoint_head.*``
  becomes ``head.*``). detectron2 / detrex checkpoints are refused with the reason (use
  ``--mode backbone --prefix ...``);
* files are loaded with ``weights_only=True``; official checkpoints that also pickle Python
  objects (e.g. an ``argparse.Namespace`` under ``args``) need ``--trust-pickle``;
* keys that belong to no ViTAE module are reported and left out; with ``--arch`` (cls / backbone)
  or ``--config`` (whole) the result is checked strictly against the HVT model and missing /
  unexpected keys are reported (exit code 1).
"""
import argparse
import os.path as osp
import re
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from hvt.engine.checkpoint_io import (TRUST_PICKLE_HELP, load_checkpoint_file,  # noqa: E402
                                      save_checkpoint_file, unwrap_state_dict)
from hvt.engine.whole_model import (WHOLE_LAYOUT_HELP, UnsupportedLayout,  # noqa: E402
                                    convert_heads, detect_framework, split_backbone,
                                    verify_against_config)
from hvt.models.backbones.vitae_common import (add_relative_position_index,  # noqa: E402
                                               convert_official_vitae, state_keys)

KNOWN_RE = re.compile(r'^(layers\.\d+\.(RC|NC\.\d+)\..+|fc_norm\.(weight|bias)|'
                      r'head\.(weight|bias))$')
PCM_CONV_RE = re.compile(r'^layers\.\d+\.NC\.\d+\.PCM\.\d+\.weight$')
UNUSED_RPE = 'attn.rel_pos_bias.relative_position_bias_table'

ARCHS = {
    'vitae-t': ('ViTAE', 't'), 'vitae-6m': ('ViTAE', '6m'), 'vitae-13m': ('ViTAE', '13m'),
    'vitae-s': ('ViTAE', 's'), 'vitae-b': ('ViTAE', 'b'), 'vitae-l': ('ViTAE', 'l'),
    'vitae-h': ('ViTAE', 'h'), 'vitaev2-s': ('ViTAEv2', 's'), 'vitaev2-48m': ('ViTAEv2', '48m'),
    'vitaev2-b': ('ViTAEv2', 'b')
}


def pad_pcm_kernels(state):
    """Zero-pad 1x1 NC PCM kernels to 3x3 (centre tap keeps the 1x1 weight)."""
    out = OrderedDict()
    for k, v in state.items():
        if PCM_CONV_RE.match(k) and v.ndim == 4 and v.shape[-2:] == (1, 1):
            v = torch.nn.functional.pad(v, (1, 1, 1, 1))
        out[k] = v
    return out


def convert(ckpt, mode='cls', use_ema=True, prefix=None, pad_pcm=False, to_official=False,
            window_size=7, window_stages=(0, 1), log=print):
    """Returns ``(state_dict, unmatched_keys)``."""
    if to_official:
        state, _ = unwrap_state_dict(ckpt, state_keys(use_ema), strict=True)
        state = OrderedDict((k[len('backbone.'):] if k.startswith('backbone.') else k, v)
                            for k, v in state.items())
        state = OrderedDict(('head.' + k[len('head.fc.'):] if k.startswith('head.fc.') else k, v)
                            for k, v in state.items())
        state = OrderedDict(
            (k.replace('attn.rel_pos_bias.relative_position_bias_table',
                       'attn.relative_position_bias_table'), v) for k, v in state.items())
        return add_relative_position_index(state, window_size, window_stages), []
    _, source = unwrap_state_dict(ckpt, state_keys(use_ema), strict=True)
    log(f'weights taken from {source!r}' if source else 'weights taken from a bare state dict')
    state = convert_official_vitae(ckpt, prefix=prefix, use_ema=use_ema)
    unmatched = [k for k in state if not KNOWN_RE.match(k)]
    for k in unmatched:
        state.pop(k)
    if pad_pcm:
        state = pad_pcm_kernels(state)
    if mode == 'backbone':
        state = OrderedDict((k, v) for k, v in state.items() if not k.startswith('head.'))
    elif mode == 'cls':
        state = OrderedDict(('head.fc.' + k[len('head.'):] if k.startswith('head.') else
                             'backbone.' + k, v) for k, v in state.items())
    else:
        raise ValueError(f"mode must be 'cls' or 'backbone', got {mode!r}")
    return state, unmatched


def whole_state(ckpt, use_ema=True, source='<checkpoint>'):
    """``(state_dict, framework)`` of a whole downstream model (``framework`` is None if it is
    not one); raises :class:`UnsupportedLayout` for detectron2 / detrex checkpoints."""
    state, _ = unwrap_state_dict(ckpt, state_keys(use_ema), strict=True)
    return state, detect_framework(state, source)


def convert_whole(ckpt, use_ema=True, pad_pcm=False, source='<checkpoint>', log=print):
    """An official mmdet 2.x / mmseg 0.x / mmpose 0.x ViTAEv2 model -> the HVT whole model's
    keys. Returns ``(state_dict, unmatched_backbone_keys, framework)``."""
    state, framework = whole_state(ckpt, use_ema, source)
    if framework is None:
        raise UnsupportedLayout(
            f'{source}: not a whole detection / segmentation / pose model (no backbone.* keys '
            'with mmdet neck/rpn_head/roi_head/bbox_head, mmseg decode_head or mmpose '
            'keypoint_head keys); use --mode cls or --mode backbone')
    log(f'{source}: {framework} whole model')
    backbone, rest = split_backbone(state)
    backbone = convert_official_vitae(backbone)
    if framework == 'mmpose':  # created but never read by the official pose window attention
        unused = [k for k in backbone if k.endswith(UNUSED_RPE)]
        for k in unused:
            backbone.pop(k)
        if unused:
            log(f'dropped {len(unused)} unused relative_position_bias_table tensors of the pose '
                'window attentions')
    unmatched = [k for k in backbone if not KNOWN_RE.match(k)]
    for k in unmatched:
        backbone.pop(k)
    if pad_pcm:
        backbone = pad_pcm_kernels(backbone)
    out = OrderedDict(('backbone.' + k, v) for k, v in backbone.items())
    out.update(convert_heads(rest, framework))
    return out, unmatched, framework


def verify(state, arch, mode, log=print):
    """Load ``state`` strictly into the HVT model of ``arch``; returns True when it matches."""
    import hvt.models  # noqa: F401
    from hvt.registry import MODELS
    type_, name = ARCHS[arch]
    backbone = MODELS.build(dict(type=type_, arch=name))
    if mode == 'cls':
        head_w = state.get('head.fc.weight')
        model = torch.nn.Module()
        model.backbone = backbone
        model.head = torch.nn.Module()
        if head_w is not None:
            model.head.fc = torch.nn.Linear(head_w.shape[1], head_w.shape[0])
    else:
        model = backbone
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing:
        log(f'missing keys ({len(missing)}): {missing}')
    if unexpected:
        log(f'unexpected keys ({len(unexpected)}): {unexpected}')
    return not missing and not unexpected


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     epilog=__doc__[__doc__.index('Layouts handled'):
                                                    __doc__.index('    # ImageNet')],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official checkpoint')
    parser.add_argument('dst', help='output path')
    parser.add_argument('--mode', choices=['cls', 'backbone', 'whole'], default=None,
                        help='cls: ImageNet classifier; backbone: bare backbone keys; whole: '
                        f'{WHOLE_LAYOUT_HELP}. Default: whole if the checkpoint is a whole '
                        'downstream model, else cls')
    parser.add_argument('--no-ema', action='store_true', help="use 'model', not the EMA weights")
    parser.add_argument('--prefix', default=None,
                        help="keep only keys under this prefix (e.g. 'backbone.' for official "
                        'mmdet/mmseg checkpoints)')
    parser.add_argument('--pad-pcm', action='store_true',
                        help='zero-pad 1x1 PCM kernels (MAE pre-training) to 3x3')
    parser.add_argument('--to-official', action='store_true',
                        help='convert an HVT checkpoint back to the official layout (re-creates '
                        'relative_position_index for the window stages)')
    parser.add_argument('--trust-pickle', action='store_true', help=TRUST_PICKLE_HELP)
    parser.add_argument('--arch', choices=sorted(ARCHS), default=None,
                        help='verify by loading strictly into this HVT model (cls / backbone)')
    parser.add_argument('--config', default=None,
                        help='whole mode: verify by loading strictly into the model of this HVT '
                        'config (e.g. configs/vitaev2/mask-rcnn_vitaev2-s_fpn_3x_coco.py)')
    args = parser.parse_args(argv)

    try:
        ckpt = load_checkpoint_file(args.src, trust_pickle=args.trust_pickle)
    except RuntimeError as e:  # a legacy pickle, and --trust-pickle not given
        print(e)
        return 2
    mode = args.mode
    try:
        if mode is None and not args.to_official and args.prefix is None:
            mode = 'whole' if whole_state(ckpt, not args.no_ema, args.src)[1] else 'cls'
        if mode == 'whole':
            state, unmatched, framework = convert_whole(ckpt, not args.no_ema, args.pad_pcm,
                                                        args.src)
        else:
            state, unmatched = convert(ckpt, mode or 'cls', not args.no_ema, args.prefix,
                                       args.pad_pcm, args.to_official)
    except UnsupportedLayout as e:
        print(f'error: {e}')
        return 2
    if unmatched:
        print(f'left out {len(unmatched)} keys that match no ViTAE module: {unmatched}')
    ok = True
    if mode == 'whole':
        if args.config:
            ok = verify_against_config(state, args.config)
    elif args.arch and not args.to_official:
        ok = verify(state, args.arch, mode or 'cls')
        print(f'strict load into {args.arch}: {"OK" if ok else "FAILED"}')
    out = state if args.to_official else dict(state_dict=state,
                                              meta=dict(converted_from=osp.basename(args.src)))
    save_checkpoint_file(out, args.dst)
    print(f'saved {len(state)} tensors to {args.dst}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
