"""Plot curves from, and time, mmengine training logs (``<work_dir>/<time>/vis_data/scalars.json``).

    python tools/analysis/analyze_logs.py plot_curve run1/.../scalars.json run2/.../scalars.json \
        --keys loss lr accuracy/top1 --legend run1 run2 --out curves.png
    python tools/analysis/analyze_logs.py cal_train_time run1/.../scalars.json

``plot_curve`` draws one panel per key with one line per log: training quantities (``loss``,
``lr``, ``loss_cls``, ...) against the iteration, validation metrics (``accuracy/top1``,
``coco/bbox_mAP``, ``mIoU``, ...) against the validation step. A work dir may be given instead of
its scalars.json (the newest run is used). ``cal_train_time`` reports the mean time per
iteration per epoch, the slowest and fastest epochs and their spread.
"""
import argparse
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from plot_curves import find_scalars, plt, read_scalars  # noqa: E402  (one scalars.json reader)

NOT_KEYS = ('step', 'epoch', 'iter')


def load_logs(paths):
    """``[(path, train records, val records)]`` for each scalars.json (or work dir)."""
    logs = []
    for path in paths:
        scalars = find_scalars(path)
        train, val = read_scalars(scalars)
        logs.append((scalars, train, val))
    return logs


def available_keys(train, val):
    return sorted({k for r in train + val for k, v in r.items()
                   if k not in NOT_KEYS and isinstance(v, (int, float))})


def plot_curve(logs, keys, out, legend=None, title=None):
    if legend is not None and len(legend) != len(logs):
        raise ValueError(f'--legend has {len(legend)} names for {len(logs)} logs')
    for path, train, val in logs:
        missing = [k for k in keys if not any(k in r for r in train + val)]
        if missing:
            raise ValueError(f'{path} has no {", ".join(map(repr, missing))}; available keys: '
                           f'{", ".join(available_keys(train, val))}')
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for i, (path, train, val) in enumerate(logs):
            is_train = any(key in r for r in train)
            records = [r for r in (train if is_train else val) if key in r]
            label = legend[i] if legend else osp.basename(osp.dirname(osp.dirname(path))) or path
            ax.plot([r['step'] for r in records], [r[key] for r in records], label=label,
                    marker='' if is_train else 'o')
            ax.set_xlabel('iteration' if is_train else 'validation step')
        ax.set_title(key)
        ax.grid(alpha=0.3)
        if len(logs) > 1:
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def cal_train_time(logs, include_outliers=False):
    """Per log: mean seconds per iteration of each epoch, the slowest/fastest epoch, the std."""
    reports = []
    for path, train, _ in logs:
        timed = [r for r in train if 'time' in r]
        if not timed:
            raise ValueError(f'{path} has no "time" records; available keys: '
                           f'{", ".join(available_keys(train, []))}')
        epochs = {}
        for r in timed:  # iteration-based runs have no epoch: one group
            epochs.setdefault(r.get('epoch', 1), []).append(r['time'])
        means = {}
        for epoch, times in epochs.items():
            # the first logged iteration of an epoch includes data-loader start-up
            kept = times if include_outliers or len(times) == 1 else times[1:]
            means[epoch] = float(np.mean(kept))
        slow, fast = max(means, key=means.get), min(means, key=means.get)
        everything = [t for times in epochs.values() for t in times]
        reports.append(dict(path=path, epochs=means, slowest=(slow, means[slow]),
                            fastest=(fast, means[fast]), std=float(np.std(list(means.values()))),
                            mean=float(np.mean(list(means.values()))), records=len(everything)))
    return reports


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = p.add_subparsers(dest='task', required=True)
    plot = sub.add_parser('plot_curve', help='plot keys of one or more logs')
    plot.add_argument('logs', nargs='+', help='scalars.json files or work dirs')
    plot.add_argument('--keys', nargs='+', default=['loss'], help='keys to plot (default: loss)')
    plot.add_argument('--legend', nargs='+', help='one name per log (default: the run folder)')
    plot.add_argument('--title', help='figure title')
    plot.add_argument('--out', required=True, help='PNG to write')
    timing = sub.add_parser('cal_train_time', help='time per iteration of each log')
    timing.add_argument('logs', nargs='+', help='scalars.json files or work dirs')
    timing.add_argument('--include-outliers', action='store_true',
                        help='count the first logged iteration of every epoch too')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        logs = load_logs(args.logs)
        if args.task == 'plot_curve':
            plot_curve(logs, args.keys, args.out, args.legend, args.title)
        else:
            reports = cal_train_time(logs, args.include_outliers)
    except (FileNotFoundError, ValueError) as e:  # a wrong path or key: the message, no traceback
        raise SystemExit(f'[analyze_logs] error: {e}') from None
    if args.task == 'plot_curve':
        print(f'[analyze_logs] {", ".join(args.keys)} of {len(logs)} log(s) -> {args.out}')
        return
    for rep in reports:
        print(f'-----Analyze train time of {rep["path"]}-----')
        print(f'slowest epoch {rep["slowest"][0]}, average time is {rep["slowest"][1]:.4f} s/iter')
        print(f'fastest epoch {rep["fastest"][0]}, average time is {rep["fastest"][1]:.4f} s/iter')
        print(f'time std over epochs is {rep["std"]:.4f}')
        print(f'average iter time: {rep["mean"]:.4f} s/iter')


if __name__ == '__main__':
    main()
