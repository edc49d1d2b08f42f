"""Convert official Dual-ViT checkpoints (github.com/YehLi/ImageNetModel) to HVT.

Layouts handled (``--mode``; without it, a whole downstream model is detected from its keys and
anything else is treated as a classifier):

* ``--mode cls``: ImageNet checkpoints (``classification/dualvit.py``, class ``DualViT``) ->
  mmpretrain ImageClassifier keys: backbone keys -> ``backbone.<key>``; ``post_network.*``,
  ``norm4.*``, ``head.*`` and ``aux_head.*`` -> ``head.<key>`` (the :class:`DualViTClsHead` holds
  them under the same names).
* ``--mode dense``: an ImageNet checkpoint or a detection / segmentation backbone
  (``object_detection/dualvit.py`` / ``semantic_segmentation/mmseg/models/backbones/dualvit.py``,
  class ``DualVit``; ``--prefix backbone.`` for a whole-detector file) -> bare
  ``DualViT(mode='dense')`` keys, for a backbone ``init_cfg``. ``post_network``, ``head``,
  ``aux_head`` and the last block's ``mlp.fc_proxy`` (the dense backbone drops the semantic
  tokens before that FFN; the official dense code builds a plain FFN there) are dropped; ``norm4``
  is kept, as the official detection/segmentation code uses it as its stage-4 norm.
* ``--mode whole``: official Mask R-CNN / Cascade Mask R-CNN / RetinaNet / ATSS / GFL / Sparse
  R-CNN (mmdet 2.x) and UperNet (mmseg 0.x) models -> the whole HVT model of ``--config``
  (mmdet 3.x / mmseg 1.x keys; the backbone part as in ``dense``), checked strictly against it.
* refused: detectron2 / detrex whole models (no mmdet 3.x counterpart of their heads; convert the
  backbone with ``--mode dense --prefix ...``).

    python tools/model_converters/dualvit2hvt.py dualvit_s.pth dualvit-s_cls.pth --mode cls
    python tools/model_converters/dualvit2hvt.py dualvit_s.pth dualvit-s_dense.pth --mode dense
    python tools/model_converters/dualvit2hvt.py mask_rcnn_dualvit_s_1x.pth mask-rcnn.pth \
        --mode whole --config configs/dualvit/mask-rcnn_dualvit-s_fpn_1x_coco.py
    python tools/model_converters/dualvit2hvt.py upernet_dualvit_s.pth upernet.pth \
        --mode whole --config configs/dualvit/upernet_dualvit-s_8xb2-160k_ade20k-512x512.py

HVT keeps the official parameter names, so converting is prefixing. The input may be a bare state
dict or wrap it in ``state_dict`` / ``model`` / ``model_ema``; ``module.`` prefixes (and, except
in whole mode, ``backbone.``) are removed first. Keys that match no rule are reported and left
out. In cls / dense mode (``--verify``, default on) the converted weights are loaded strictly into
the HVT model of the inferred variant; in whole mode ``--config`` checks them against the HVT
config's model. Missing / unexpected keys are reported (exit code 1).
"""
import argparse
import re
import sys
from collections import OrderedDict
from os import path as osp

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from hvt.engine.checkpoint_io import (TRUST_PICKLE_HELP, load_checkpoint_file,  # noqa: E402
                                      save_checkpoint_file, unwrap_state_dict)
from hvt.engine.whole_model import (WHOLE_LAYOUT_HELP, UnsupportedLayout,  # noqa: E402
                                    convert_heads, detect_framework, split_backbone,
                                    verify_against_config)

BACKBONE_RE = re.compile(r'^(q|q_embed\..+|kv\..+|se\..+|proxy_ln\..+|patch_embed[1-4]\..+|'
                         r'proxy_embed[2-4]\..+|block[1-4]\.\d+\..+|norm[1-4]\..+|'
                         r'norm_proxy[1-3]\..+)$')
HEAD_RE = re.compile(r'^(post_network\..+|head\..+|aux_head\..+)$')


CKPT_KEYS = ('state_dict', 'model', 'model_ema')  # where the official files keep the weights


def last_block4_index(sd):
    idx = [int(m.group(1)) for k in sd for m in [re.match(r'^block4\.(\d+)\.', k)] if m]
    return max(idx) if idx else None


def convert(state_dict, mode='cls', prefix=None, source='<checkpoint>'):
    """Return ``(converted, report)``; ``report`` lists ``unmatched`` and ``dropped`` keys (and,
    in whole mode, the ``framework``)."""
    if mode not in ('cls', 'dense', 'whole'):
        raise ValueError(f'mode must be "cls", "dense" or "whole", got {mode!r}')
    if mode == 'whole':
        return convert_whole(state_dict, source)
    sd, _ = unwrap_state_dict(state_dict, CKPT_KEYS, ('module.', 'backbone.'))
    last = last_block4_index(sd)
    out, unmatched, dropped = OrderedDict(), [], []
    for k, v in sd.items():
        if mode == 'cls':
            if k.startswith('norm4.') or HEAD_RE.match(k):
                out['head.' + k] = v
            elif BACKBONE_RE.match(k):
                out[(prefix if prefix is not None else 'backbone.') + k] = v
            else:
                unmatched.append(k)
        else:
            if HEAD_RE.match(k) or (last is not None
                                    and k.startswith(f'block4.{last}.mlp.fc_proxy.')):
                dropped.append(k)
            elif BACKBONE_RE.match(k):
                out[(prefix or '') + k] = v
            else:
                unmatched.append(k)
    return out, dict(unmatched=unmatched, dropped=dropped)


def convert_whole(checkpoint, source='<checkpoint>'):
    """An official mmdet 2.x / mmseg 0.x Dual-ViT model -> the HVT whole model's keys (backbone
    as in dense mode, necks / heads by :func:`hvt.engine.whole_model.convert_heads`)."""
    sd, _ = unwrap_state_dict(checkpoint, CKPT_KEYS)
    framework = detect_framework(sd, source, '--mode dense')
    if framework not in ('mmdet', 'mmseg'):
        raise UnsupportedLayout(
            f'{source}: not an mmdet / mmseg whole model (backbone.* with neck / rpn_head / '
            'roi_head / bbox_head or decode_head keys); use --mode cls or --mode dense')
    backbone, rest = split_backbone(sd)
    out, report = convert(backbone, 'dense', prefix='backbone.')
    out.update(convert_heads(rest, framework))
    report['framework'] = framework
    return out, report


def infer_arch(state_dict):
    """``(arch dict, head settings)`` of a Dual-ViT state dict (official or HVT layout)."""
    sd, _ = unwrap_state_dict(state_dict, CKPT_KEYS, ('module.', 'backbone.'))
    sd = {k[len('head.'):] if k.startswith('head.') and not k.startswith('head.weight')
          and not k.startswith('head.bias') else k: v for k, v in sd.items()}
    try:
        dims = [sd['patch_embed1.proj.weight'].shape[0]] + [
            sd[f'patch_embed{i}.proj.weight'].shape[0] for i in (2, 3, 4)]
        stem = sd['patch_embed1.conv.0.weight'].shape[0]
    except KeyError as e:
        raise KeyError(f'not a Dual-ViT state dict: missing {e}') from None
    depths = []
    for i in range(1, 5):
        idx = {int(m.group(1)) for k in sd for m in [re.match(rf'^block{i}\.(\d+)\.', k)] if m}
        depths.append(max(idx) + 1 if idx else 0)
    head_dim = 32
    arch = dict(stem_hidden_dim=stem, embed_dims=dims, depths=depths,
                num_heads=[d // head_dim for d in dims], mlp_ratios=[8, 8, 4, 3])
    head = None
    if 'head.weight' in sd:
        head = dict(num_classes=sd['head.weight'].shape[0], in_channels=dims[3],
                    num_heads=dims[3] // head_dim, token_label='aux_head.weight' in sd)
    return arch, head


def build_target(arch, head, mode):
    """The HVT modules the converted keys must fill (strictly)."""
    import hvt.models  # noqa: F401  (registers DualViT and DualViTClsHead)
    from hvt.registry import MODELS
    backbone = MODELS.build(dict(type='DualViT', arch=arch, mode=mode))
    if mode == 'dense':
        return backbone
    model = torch.nn.Module()
    model.backbone = backbone
    if head is None:
        raise KeyError('cls mode: the checkpoint has no classification head (head.weight)')
    model.head = MODELS.build(dict(type='DualViTClsHead', **head))
    return model


def verify(converted, arch, head, mode, prefix=None):
    model = build_target(arch, head, mode)
    sd = converted
    if mode == 'dense' and prefix:
        sd = OrderedDict((k[len(prefix):] if k.startswith(prefix) else k, v)
                         for k, v in converted.items())
    if mode == 'cls' and prefix not in (None, 'backbone.'):
        raise ValueError('--verify with a custom --prefix is only supported in dense mode')
    result = model.load_state_dict(sd, strict=False)
    return list(result.missing_keys), list(result.unexpected_keys)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     epilog=__doc__[__doc__.index('Layouts handled'):
                                                    __doc__.index('    python tools')],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='output path')
    parser.add_argument('--mode', choices=['cls', 'dense', 'whole'], default=None,
                        help='cls: mmpretrain ImageClassifier keys; dense: bare backbone keys; '
                        f'whole: {WHOLE_LAYOUT_HELP}. Default: whole if the checkpoint is a '
                        'whole downstream model, else cls')
    parser.add_argument('--prefix', default=None,
                        help='key prefix of the backbone (default: "backbone." in cls mode, '
                        'none in dense mode)')
    parser.add_argument('--trust-pickle', action='store_true', help=TRUST_PICKLE_HELP)
    parser.add_argument('--no-verify', action='store_true',
                        help='do not load the result strictly into the HVT model')
    parser.add_argument('--config', default=None,
                        help='whole mode: verify by loading strictly into the model of this HVT '
                        'config (e.g. configs/dualvit/mask-rcnn_dualvit-s_fpn_1x_coco.py)')
    args = parser.parse_args(argv)

    try:
        ckpt = load_checkpoint_file(args.src, trust_pickle=args.trust_pickle)
    except RuntimeError as e:  # a legacy pickle, and --trust-pickle not given
        print(e)
        return 2
    mode = args.mode
    try:
        if mode is None:
            whole = detect_framework(unwrap_state_dict(ckpt, CKPT_KEYS)[0], args.src,
                                     '--mode dense')
            mode = 'whole' if whole in ('mmdet', 'mmseg') else 'cls'
        converted, report = convert(ckpt, mode, args.prefix, args.src)
    except UnsupportedLayout as e:
        print(f'error: {e}')
        return 2
    for k in report['unmatched']:
        print(f'unmatched (not converted): {k}')
    if report['dropped']:
        print(f'dropped {len(report["dropped"])} classification-only keys: '
              f'{", ".join(report["dropped"][:6])}{" ..." if len(report["dropped"]) > 6 else ""}')
    ok = not report['unmatched']
    if mode == 'whole':
        print(f'{report["framework"]} whole model')
        if args.config:
            ok = verify_against_config(converted, args.config) and ok
    elif not args.no_verify:
        arch, head = infer_arch(ckpt)
        missing, unexpected = verify(converted, arch, head, mode, args.prefix)
        for k in missing:
            print(f'missing in checkpoint: {k}')
        for k in unexpected:
            print(f'unexpected in checkpoint: {k}')
        ok = ok and not missing and not unexpected
        print(f'arch {arch}, head {head}: strict load {"OK" if ok else "FAILED"}')
    save_checkpoint_file({'state_dict': converted,
                          'meta': {'converted_from': osp.basename(args.src), 'mode': mode}},
                         args.dst)
    print(f'saved {len(converted)} tensors to {args.dst}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
