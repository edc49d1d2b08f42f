"""Plot training curves (loss, learning rate, validation metrics) from an mmengine work dir.

    python tools/analysis/plot_curves.py work_dirs/demo --out work_dirs/demo/curves.png

Reads the newest ``<work_dir>/<timestamp>/vis_data/scalars.json`` (written by mmengine's
``LocalVisBackend``) or a given ``scalars.json`` and draws one panel per quantity: the training
loss, and every validation metric (``accuracy/top1``, ``coco/bbox_mAP``, ``mIoU``, ``coco/AP``, ...).
"""
import argparse
import glob
import json
import os.path as osp

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

TRAIN_KEYS = ('loss', 'lr')


def find_scalars(path):
    if osp.isfile(path):
        return path
    found = sorted(glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json')), key=osp.getmtime)
    if not found:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {path!r}: is it a work dir of '
                                'a run that logged at least one iteration?')
    return found[-1]


def read_scalars(path):
    """Split the JSON lines into training records (with ``loss``) and validation records."""
    train, val = [], []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            (train if 'loss' in rec else val).append(rec)
    return train, val


def plot(train, val, out):
    val_keys = sorted({k for r in val for k in r if k not in ('step', 'epoch', 'iter', 'data_time', 'time')
                       and isinstance(r[k], (int, float))})
    panels = [k for k in TRAIN_KEYS if any(k in r for r in train)] + val_keys
    if not panels:
        raise ValueError('nothing to plot: the scalars file has no loss and no metrics')
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, key in zip(axes[0], panels):
        records = train if key in TRAIN_KEYS else val
        xs = [r['step'] for r in records if key in r]
        ys = [r[key] for r in records if key in r]
        ax.plot(xs, ys, marker='' if key in TRAIN_KEYS else 'o')
        ax.set_title(key)
        ax.set_xlabel('iteration' if key in TRAIN_KEYS else 'validation step')
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return panels


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('path', help='work dir, or a scalars.json file')
    p.add_argument('--out', help='PNG to write (default: <work dir>/curves.png)')
    a = p.parse_args()
    scalars = find_scalars(a.path)
    out = a.out or osp.join(a.path if osp.isdir(a.path) else osp.dirname(a.path), 'curves.png')
    train, val = read_scalars(scalars)
    panels = plot(train, val, out)
    last = {k: val[-1][k] for k in panels if val and k in val[-1]}
    print(f'[plot_curves] {len(train)} training records, {len(val)} validations -> {out}')
    if last:
        print('[plot_curves] last validation: ' + ', '.join(f'{k}={v:.4g}' for k, v in last.items()))


if __name__ == '__main__':
    main()
