#!/usr/bin/env python
"""Convert iTPN and Fast-iTPN checkpoints (github.com/sunsmarterjie/iTPN) to HVT key names.

Layouts handled (``--mode auto``, the default, detects them from the keys; ``--mode whole``
insists on a whole downstream model; ``--mode backbone`` keeps only the backbone and pyramid):

* official pixel pre-training (``itpn_pixel/models/models_itpn_mim.py``, ``iTPNMaskedAutoencoder``:
  top-level ``blocks.*``, ``absolute_pos_embed``, pyramid keys, ``decoder_*``, decoder
  ``mask_token``) -> ``backbone.*`` + ``neck.*`` of ``hvt.iTPNPretrain`` with ``hvt.iTPNPixelNeck``;
* official CLIP pre-training (``itpn_clip/modeling_pretrain.py``, ``iTPNClipDistill``: stage-3
  ``mask_token``, ``decoder_embed``, ``norm``, ``lm_head``, ``cls_pt_layers``, ``norm_cls``,
  ``lm_cls_head``; the teacher is dropped) -> ``backbone.*`` + ``neck.*`` of ``hvt.iTPNPretrain``
  with ``hvt.iTPNClipNeck``;
* official iTPN fine-tuning checkpoints (``fc_norm``, ``head``) -> mmpretrain ``ImageClassifier``
  with ``hvt.HiViT(out_type='avg_featmap')``: ``backbone.*``, ``head.fc.*``;
* official Fast-iTPN checkpoints (``fast_itpn/modeling_finetune.py``, ``Fast_iTPN``: ``pos_embed``,
  ``blocks.*`` with ``attn.q_proj`` / ``mlp.w1``, ``fc_norm``, ``head``) -> ``backbone.*`` (+
  ``head.fc.*``) of an ImageClassifier with ``hvt.FastiTPN`` (whose names are the official ones);
* official detection (``det/mmdet/models/backbones/iTPN_pixel.py`` / ``iTPN_CLIP.py``, mmdet 2.x
  Mask R-CNN / Cascade Mask R-CNN, pyramid inside the backbone) and segmentation
  (``seg/backbone/iTPN.py``, mmseg 0.x UperNet) models -> the whole HVT model: the backbone's
  pyramid keys become ``backbone.pyramid.*`` of ``hvt.iTPNDet`` / ``hvt.iTPNSeg``, the
  ``relative_position_index`` buffer is dropped, necks and heads keep their names (mmdet 3.x /
  mmseg 1.x, :mod:`hvt.engine.whole_model`); ``--config`` checks the result strictly;
* mmpretrain iTPN / HiViT checkpoints (``backbone.pos_embed``, mmpretrain decoder names
  ``ln1``/``ffn.layers``): renamed to HVT names. mmpretrain's doubled early stages (4+4+24)
  load into ``hvt.HiViT(arch=dict(embed_dims=512, depths=[4, 4, 24], num_heads=8))``.

Refused, with the reason:

* Fast-iTPN whole downstream models: the official repository publishes Fast-iTPN classification
  code and checkpoints only (``fast_itpn/``), so there is no official Fast-iTPN detection /
  segmentation layout; convert the backbone (``--mode backbone``) and fine-tune
  ``configs/fast_itpn/*``;
* detectron2 / detrex checkpoints (e.g. a DINO from detrex): their heads have no mmdet 3.x
  counterpart; ``--mode backbone --prefix backbone.net.`` (or the backbone's prefix) extracts
  the backbone.

The output checkpoint holds ``state_dict`` and ``meta`` (with the detected source layout).
Downstream wrappers (``hvt.iTPNDet`` / ``hvt.iTPNSeg`` / ``hvt.FastiTPNDet``) load a converted
pre-training or ``--mode backbone`` file through their ``init_cfg``.

Files are read with ``torch.load(weights_only=True)``; official checkpoints that pickle other
objects (e.g. an ``argparse.Namespace`` under ``args``) need ``--trust-pickle``.

    python tools/model_converters/itpn2hvt.py itpn_pixel_base_1600e.pth itpn-b-pixel.pth
    python tools/model_converters/itpn2hvt.py mask_rcnn_itpn_b_pixel_1x.pth mask-rcnn.pth \
        --mode whole --config configs/itpn/mask-rcnn_itpn-b-pixel_1x_coco.py
    python tools/model_converters/itpn2hvt.py upernet_itpn_b_pixel.pth upernet.pth \
        --mode whole --config configs/itpn/upernet_itpn-b-pixel_8xb2-160k_ade20k-512x512.py
    python tools/model_converters/itpn2hvt.py fast_itpn_tiny_1600e_1k.pt fast-itpn-t.pth
    python tools/model_converters/itpn2hvt.py dino_fast_itpn.pth backbone.pth --mode backbone \
        --prefix backbone.net.
"""
import argparse
import os.path as osp
import re
import sys
from collections import OrderedDict

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from hvt.engine.checkpoint_io import (TRUST_PICKLE_HELP, load_checkpoint_file,  # noqa: E402
                                      save_checkpoint_file, unwrap_state_dict)
from hvt.engine.whole_model import (WHOLE_LAYOUT_HELP, UnsupportedLayout,  # noqa: E402
                                    convert_heads, detect_framework, split_backbone,
                                    verify_against_config)

PYRAMID = ('align_dim_16tofpn.', 'align_dim_16to8.', 'align_dim_8to4.', 'split_16to8.',
           'split_8to4.', 'block_16to8.', 'block_8to4.', 'fpn_modules.')
NECK_OFFICIAL = PYRAMID + ('decoder_embed.', 'decoder_blocks.', 'decoder_norm.', 'decoder_pred.',
                           'decoder_pos_embed', 'lm_head.', 'lm_cls_head.', 'norm_cls.',
                           'cls_pt_layers.', 'norm.')
FAST_ITPN_RE = re.compile(r'^blocks\.\d+\.(attn\.q_proj|mlp\.w1|mlp\.ffn_ln)\.')
FAST_WHOLE_REFUSED = (
    'a Fast-iTPN whole downstream model. The official repository (sunsmarterjie/iTPN, '
    'fast_itpn/) publishes Fast-iTPN classification code and checkpoints only, so there is no '
    'official Fast-iTPN detection / segmentation layout to map from. Convert the backbone with '
    '--mode backbone and fine-tune an HVT config (configs/fast_itpn/*) from it.')
MMPRETRAIN_DECODER = [(r'\.ln1\.', '.norm1.'), (r'\.ln2\.', '.norm2.'),
                      (r'\.ffn\.layers\.0\.0\.', '.mlp.fc1.'), (r'\.ffn\.layers\.1\.', '.mlp.fc2.')]


def is_fast_itpn(sd):
    """Whether a (backbone) state dict holds Fast-iTPN blocks (separate q/k/v, SwiGLU, sub-LN)."""
    return any(FAST_ITPN_RE.match(k) for k in sd)


def detect_layout(sd):
    if is_fast_itpn(sd):
        return 'fast-itpn-finetune' if 'head.weight' in sd else 'fast-itpn-backbone'
    if any(k.startswith('backbone.') for k in sd):
        return 'mmpretrain'
    if 'decoder_pred.weight' in sd:
        return 'official-pixel'
    if 'lm_head.weight' in sd:
        return 'official-clip'
    if 'head.weight' in sd or 'fc_norm.weight' in sd:
        return 'official-finetune'
    if any(k.startswith('blocks.') for k in sd):
        return 'official-backbone'
    raise UnsupportedLayout('itpn2hvt: unrecognised checkpoint layout (no backbone. / blocks. '
                            'keys); is --prefix right?')


def convert_whole(sd, framework, source='<checkpoint>'):
    """An official iTPN detection (mmdet 2.x) / segmentation (mmseg 0.x) model -> the whole HVT
    model with ``hvt.iTPNDet`` / ``hvt.iTPNSeg``. Returns ``(state_dict, layout)``."""
    from hvt.models.backbones.itpn_wrappers import split_itpn_state_dict
    backbone, rest = split_backbone(sd)
    if is_fast_itpn(backbone):
        raise UnsupportedLayout(f'{source}: {FAST_WHOLE_REFUSED}')
    if framework not in ('mmdet', 'mmseg'):
        raise UnsupportedLayout(f'{source}: an {framework} whole model; the official iTPN code '
                                'has detection (mmdet) and segmentation (mmseg) models only')
    bb, pyramid = split_itpn_state_dict({'backbone.' + k: v for k, v in backbone.items()})
    out = OrderedDict(('backbone.' + k, v) for k, v in bb.items())
    out.update(('backbone.pyramid.' + k, v) for k, v in pyramid.items())
    out.update(convert_heads(rest, framework))
    return out, 'official-det' if framework == 'mmdet' else 'official-seg'


def backbone_only(sd):
    """Bare backbone keys (and the pyramid's, under their official top-level names) of a
    converted state dict, for a backbone ``init_cfg``."""
    out = OrderedDict()
    for k, v in sd.items():
        if k.startswith('backbone.pyramid.'):
            out[k[len('backbone.pyramid.'):]] = v
        elif k.startswith('backbone.'):
            out[k[len('backbone.'):]] = v
        elif k.startswith('neck.') and k[len('neck.'):].startswith(PYRAMID):
            out[k[len('neck.'):]] = v
    return out


def convert(ckpt, mode='auto', prefix=None, source='<checkpoint>'):
    """Return ``(state_dict, layout)`` with HVT key names (see the module docstring for
    ``mode``); ``prefix`` first keeps only the keys under it (prefix removed)."""
    if mode not in ('auto', 'whole', 'backbone'):
        raise ValueError(f"mode must be 'auto', 'whole' or 'backbone', got {mode!r}")
    sd, _ = unwrap_state_dict(ckpt, keys=('state_dict', 'model', 'module'))
    if prefix:
        sd = OrderedDict((k[len(prefix):], v) for k, v in sd.items() if k.startswith(prefix))
        if not sd:
            raise UnsupportedLayout(f'{source}: no key starts with {prefix!r}')
    framework = None if prefix else detect_framework(sd, source)
    if mode == 'whole' and framework is None:
        raise UnsupportedLayout(f'{source}: not a whole detection / segmentation model (no '
                                'backbone.* with rpn_head / roi_head / bbox_head or decode_head '
                                'keys)')
    if framework is not None:
        if mode == 'backbone':
            sd = split_backbone(sd)[0]
        else:
            return convert_whole(sd, framework, source)
    out, layout = _convert_single(sd)
    if mode == 'backbone':
        out = backbone_only(out)
    return out, layout


def _convert_single(sd):
    """A pre-training / fine-tuning / backbone state dict -> ``(state_dict, layout)``."""
    layout = detect_layout(sd)
    out = OrderedDict()
    if layout.startswith('fast-itpn'):
        for k, v in sd.items():
            out[('head.fc.' + k[len('head.'):]) if k.startswith('head.') else 'backbone.' + k] = v
        return out, layout
    if layout == 'mmpretrain':
        for k, v in sd.items():
            if k.startswith('target_generator.') or k.startswith('data_preprocessor.'):
                continue
            if k == 'backbone.pos_embed':
                k = 'backbone.absolute_pos_embed'
            elif k.startswith('neck.decoder_blocks.'):
                for pat, rep in MMPRETRAIN_DECODER:
                    k = re.sub(pat, rep, k)
            elif k.startswith('neck.ln1.'):
                k = 'neck.decoder_norm.' + k[len('neck.ln1.'):]
            elif k.startswith('head.') and not k.startswith('head.fc.') and \
                    k in ('head.weight', 'head.bias'):
                k = 'head.fc.' + k.split('.')[-1]
            if k.endswith('relative_position_index'):
                continue
            out[k] = v
        return out, layout
    for k, v in sd.items():
        if k == 'relative_position_index' or k.endswith('.relative_position_index'):
            continue
        if k.startswith(('clip.', 'teacher.', 'teacher_model.', 'scaling_layer.')):
            continue  # CLIP teacher weights are not part of the student
        if k == 'mask_token':
            # pixel: decoder mask token (D); clip: stage-3 mask token (C)
            out['neck.mask_token' if layout == 'official-pixel' else 'backbone.mask_token'] = v
        elif k.startswith(('head.', )):
            out['head.fc.' + k[len('head.'):]] = v
        elif k.startswith('fc_norm.'):
            out['backbone.' + k] = v
        elif k.startswith(NECK_OFFICIAL) and not (layout == 'official-finetune'
                                                  and k.startswith('norm.')):
            out['neck.' + k] = v
        elif k.startswith(('patch_embed.', 'blocks.', 'absolute_pos_embed', 'pos_embed')):
            if k == 'pos_embed':
                k = 'absolute_pos_embed'
            out['backbone.' + k] = v
        else:
            out['unconverted.' + k] = v
    return out, layout


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     epilog=__doc__[__doc__.index('Layouts handled'):
                                                    __doc__.index('The output checkpoint')],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--mode', choices=['auto', 'whole', 'backbone'], default='auto',
                        help='auto: detect the layout; whole: require a '
                        f'{WHOLE_LAYOUT_HELP.split(":")[0]} (mmdet 2.x / mmseg 0.x -> mmdet 3.x '
                        '/ mmseg 1.x); backbone: only the backbone (+ pyramid) keys, bare')
    parser.add_argument('--prefix', default=None,
                        help='keep only the keys under this prefix first (e.g. backbone.net. for '
                        'the backbone of a detectron2 / detrex model)')
    parser.add_argument('--config', default=None,
                        help='verify by loading strictly into the model of this HVT config (e.g. '
                        'configs/itpn/mask-rcnn_itpn-b-pixel_1x_coco.py)')
    parser.add_argument('--trust-pickle', action='store_true', help=TRUST_PICKLE_HELP)
    args = parser.parse_args(argv)
    try:
        ckpt = load_checkpoint_file(args.src, trust_pickle=args.trust_pickle)
    except RuntimeError as e:  # a legacy pickle, and --trust-pickle not given
        print(e)
        return 2
    try:
        sd, layout = convert(ckpt, args.mode, args.prefix, args.src)
    except UnsupportedLayout as e:
        print(f'error: {e}')
        return 2
    leftover = [k for k in sd if k.startswith('unconverted.')]
    if leftover:
        print(f'warning: {len(leftover)} keys kept under "unconverted.": {leftover[:10]}')
    ok = True
    if args.config:
        ok = verify_against_config(sd, args.config)
    save_checkpoint_file(dict(state_dict=sd, meta=dict(source_layout=layout, mode=args.mode)),
                         args.dst)
    print(f'{layout}: wrote {len(sd)} tensors to {args.dst}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
