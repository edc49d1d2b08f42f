"""Convert official ViTAE / ViTAEv2 checkpoints (github.com/ViTAE-Transformer) to HVT.

    # ImageNet classifier (mmpretrain ImageClassifier: backbone.* + head.fc.*)
    python tools/model_converters/vitae2hvt.py ViTAEv2-S.pth.tar vitaev2-s_in1k.pth \
        --arch vitaev2-s
    # backbone only (bare keys, for a backbone init_cfg Pretrained)
    python tools/model_converters/vitae2hvt.py ViTAEv2-S.pth.tar vitaev2-s_backbone.pth \
        --mode backbone

HVT keeps the official parameter names (``layers.{i}.RC.*``, ``layers.{i}.NC.{k}.*``,
``fc_norm.*``, ``head.*``), so converting is mostly bookkeeping:

* the weights are taken from ``state_dict_ema`` (the EMA weights, which the official downstream
  code loads; ``--no-ema`` takes ``model``), else ``model`` / ``state_dict``; ``module.`` and
  (``--prefix``) ``backbone.`` prefixes are removed;
* the window attentions' ``relative_position_index`` (and ``attn_mask``) buffers are dropped: HVT
  rebuilds them, and the paper models do not use a relative position bias. ``--to-official``
  goes the other way and re-creates them for the window stages;
* an official ``attn.relative_position_bias_table`` becomes
  ``attn.rel_pos_bias.relative_position_bias_table``;
* ``--pad-pcm`` zero-pads 1x1 PCM kernels (MAE pre-training of ViTAE-B/L/H) to 3x3 (spec §4.2);
* files are loaded with ``weights_only=True``; official checkpoints that also pickle Python
  objects (e.g. an ``argparse.Namespace`` under ``args``) need ``--trust-pickle``;
* keys that belong to no ViTAE module are reported and left out; with ``--arch`` the result is
  loaded strictly into the HVT model and missing/unexpected keys are reported (exit code 1).

``--mode cls`` (default) writes ``backbone.<key>`` and ``head.fc.{weight,bias}``; ``--mode
backbone`` writes the bare backbone keys.
"""
import argparse
import os.path as osp
import re
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from hvt.engine.checkpoint_io import (TRUST_PICKLE_HELP, load_checkpoint_file,  # noqa: E402
                                      save_checkpoint_file)
from hvt.models.backbones.vitae import (add_relative_position_index,  # noqa: E402
                                        convert_official_vitae, select_state_dict)

KNOWN_RE = re.compile(r'^(layers\.\d+\.(RC|NC\.\d+)\..+|fc_norm\.(weight|bias)|'
                      r'head\.(weight|bias))$')
PCM_CONV_RE = re.compile(r'^layers\.\d+\.NC\.\d+\.PCM\.\d+\.weight$')

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
        state, _ = select_state_dict(ckpt, use_ema)
        state = OrderedDict((k[len('backbone.'):] if k.startswith('backbone.') else k, v)
                            for k, v in state.items())
        state = OrderedDict(('head.' + k[len('head.fc.'):] if k.startswith('head.fc.') else k, v)
                            for k, v in state.items())
        state = OrderedDict(
            (k.replace('attn.rel_pos_bias.relative_position_bias_table',
                       'attn.relative_position_bias_table'), v) for k, v in state.items())
        return add_relative_position_index(state, window_size, window_stages), []
    _, source = select_state_dict(ckpt, use_ema)
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
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='official checkpoint')
    parser.add_argument('dst', help='output path')
    parser.add_argument('--mode', choices=['cls', 'backbone'], default='cls')
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
                        help='verify by loading strictly into this HVT model')
    args = parser.parse_args(argv)

    try:
        ckpt = load_checkpoint_file(args.src, trust_pickle=args.trust_pickle)
    except RuntimeError as e:  # a legacy pickle, and --trust-pickle not given
        print(e)
        return 2
    state, unmatched = convert(ckpt, args.mode, not args.no_ema, args.prefix, args.pad_pcm,
                               args.to_official)
    if unmatched:
        print(f'left out {len(unmatched)} keys that match no ViTAE module: {unmatched}')
    ok = True
    if args.arch and not args.to_official:
        ok = verify(state, args.arch, args.mode)
        print(f'strict load into {args.arch}: {"OK" if ok else "FAILED"}')
    out = state if args.to_official else dict(state_dict=state,
                                              meta=dict(converted_from=osp.basename(args.src)))
    save_checkpoint_file(out, args.dst)
    print(f'saved {len(state)} tensors to {args.dst}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
