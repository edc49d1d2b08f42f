#!/usr/bin/env python
"""Unpack an OpenAI CLIP checkpoint into the plain state dict that iTPN's CLIP teacher reads.

    python tools/model_converters/clip2hvt.py ViT-B-16.pt clip-vit-b-16.pth

OpenAI publishes CLIP as TorchScript archives (``ViT-B-16.pt``, ``ViT-L-14.pt``). mmpretrain's
``CLIPGenerator`` (the teacher of ``configs/itpn/itpn-clip-*`` and
``configs/fast_itpn/itpn-clip-l_*``, through ``tokenizer_path``) builds its CLIP model from a flat
state dict with OpenAI's key names (``visual.conv1.weight``, ``visual.transformer.resblocks.0...``,
``transformer.*``, ``token_embedding.weight``, ...), inferring widths and depths from the shapes.
This tool loads the archive with ``torch.jit.load`` on the CPU, takes its state dict, casts the
fp16 tensors to fp32 (the teacher runs in fp32 and autocast handles the rest) and saves it
atomically. A file that already is such a state dict (e.g. an earlier conversion) passes through.
"""
import argparse
import os.path as osp
import sys
import zipfile

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from hvt.engine.checkpoint_io import (load_checkpoint_file,  # noqa: E402
                                      save_checkpoint_file, unwrap_state_dict)

REQUIRED = ('visual.conv1.weight', 'visual.proj', 'positional_embedding', 'text_projection')


def is_torchscript(path: str) -> bool:
    """TorchScript archives hold a ``constants.pkl`` / ``code/`` next to the data."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith('/constants.pkl') or '/code/' in n for n in zf.namelist())


def read_clip(path: str) -> dict:
    if is_torchscript(path):
        state = torch.jit.load(path, map_location='cpu').state_dict()
    else:
        state, _ = unwrap_state_dict(load_checkpoint_file(path))
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise SystemExit(f'{path}: not an OpenAI CLIP checkpoint (no {missing}; it has '
                         f'{sorted(state)[:5]} ...)')
    return {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('src', help='OpenAI CLIP file (TorchScript archive or state dict)')
    p.add_argument('dst', help='output: a flat state dict for mmpretrain.CLIPGenerator')
    args = p.parse_args(argv)
    state = read_clip(args.src)
    save_checkpoint_file(state, args.dst)
    width = state['visual.conv1.weight'].shape[0]
    patch = state['visual.conv1.weight'].shape[-1]
    print(f'wrote {args.dst}: {len(state)} tensors, visual width {width}, patch {patch}')


if __name__ == '__main__':
    main()
