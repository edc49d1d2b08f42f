#!/usr/bin/env python
"""Convert iTPN checkpoints to HVT key names.

Handles (spec itpn.md §2.7):

* official pixel pre-training (``itpn_pixel``: top-level ``blocks.*``, ``absolute_pos_embed``,
  pyramid keys, ``decoder_*``, decoder ``mask_token``) -> ``backbone.*`` + ``neck.*`` of
  ``hvt.iTPNPretrain`` with ``hvt.iTPNPixelNeck``;
* official CLIP pre-training (``itpn_clip``: stage-3 ``mask_token``, ``decoder_embed``, ``norm``,
  ``lm_head``, ``cls_pt_layers``, ``norm_cls``, ``lm_cls_head``; the teacher is dropped) ->
  ``backbone.*`` + ``neck.*`` of ``hvt.iTPNPretrain`` with ``hvt.iTPNClipNeck``;
* official fine-tuning checkpoints (``fc_norm``, ``head``) -> mmpretrain ``ImageClassifier`` with
  ``hvt.HiViT(out_type='avg_featmap')``: ``backbone.*``, ``head.fc.*``;
* mmpretrain iTPN / HiViT checkpoints (``backbone.pos_embed``, mmpretrain decoder names
  ``ln1``/``ffn.layers``): renamed to HVT names. mmpretrain's doubled early stages (4+4+24)
  load into ``hvt.HiViT(arch=dict(embed_dims=512, depths=[4, 4, 24], num_heads=8))``.

The output checkpoint holds ``state_dict`` and ``meta`` (with the detected source layout).
Downstream wrappers (``hvt.iTPNDet`` / ``hvt.iTPNSeg``) load the converted pre-training file.

Files are read with ``torch.load(weights_only=True)``; official checkpoints that pickle other
objects (e.g. an ``argparse.Namespace`` under ``args``) need ``--trust-pickle``.

Usage: python tools/model_converters/itpn2hvt.py SRC DST [--trust-pickle]
"""
import argparse
import os.path as osp
import re
import sys
from collections import OrderedDict

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from hvt.engine.checkpoint_io import (TRUST_PICKLE_HELP, load_checkpoint_file,  # noqa: E402
                                      save_checkpoint_file)

PYRAMID = ('align_dim_16tofpn.', 'align_dim_16to8.', 'align_dim_8to4.', 'split_16to8.',
           'split_8to4.', 'block_16to8.', 'block_8to4.', 'fpn_modules.')
NECK_OFFICIAL = PYRAMID + ('decoder_embed.', 'decoder_blocks.', 'decoder_norm.', 'decoder_pred.',
                           'decoder_pos_embed', 'lm_head.', 'lm_cls_head.', 'norm_cls.',
                           'cls_pt_layers.', 'norm.')
MMPRETRAIN_DECODER = [(r'\.ln1\.', '.norm1.'), (r'\.ln2\.', '.norm2.'),
                      (r'\.ffn\.layers\.0\.0\.', '.mlp.fc1.'), (r'\.ffn\.layers\.1\.', '.mlp.fc2.')]


def _unwrap(ckpt):
    if isinstance(ckpt, dict):
        for k in ('state_dict', 'model', 'module'):
            if k in ckpt and isinstance(ckpt[k], dict):
                return ckpt[k]
    return ckpt


def detect_layout(sd):
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
    raise ValueError('itpn2hvt: unrecognised checkpoint layout (no backbone./blocks. keys)')


def convert(ckpt):
    """Return ``(state_dict, layout)`` with HVT key names."""
    sd = _unwrap(ckpt)
    sd = OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v)
                     for k, v in sd.items())
    layout = detect_layout(sd)
    out = OrderedDict()
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
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--trust-pickle', action='store_true', help=TRUST_PICKLE_HELP)
    args = parser.parse_args(argv)
    try:
        ckpt = load_checkpoint_file(args.src, trust_pickle=args.trust_pickle)
    except RuntimeError as e:  # a legacy pickle, and --trust-pickle not given
        print(e)
        return 2
    sd, layout = convert(ckpt)
    leftover = [k for k in sd if k.startswith('unconverted.')]
    if leftover:
        print(f'warning: {len(leftover)} keys kept under "unconverted.": {leftover[:10]}')
    save_checkpoint_file(dict(state_dict=sd, meta=dict(source_layout=layout)), args.dst)
    print(f'{layout}: wrote {len(sd)} tensors to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
