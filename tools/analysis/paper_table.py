"""The paper's results table from tools/test.py runs: paper number, HVT measurement, difference.

    python tools/test.py CONFIG CHECKPOINT --work-dir work_dirs/eval/NAME     # once per model
    python tools/analysis/paper_table.py work_dirs/eval/* --out-md table.md --out-png table.png

Each WORK_DIR is the ``--work-dir`` of a ``tools/test.py`` run. Its newest run is used:

* ``<work_dir>/metrics.json``, written by ``tools/test.py`` when the test finishes: the metrics,
  the config and the checkpoint of the run;
* otherwise mmengine's own record, ``<work_dir>/<timestamp>/<timestamp>.json`` (the test metrics,
  written by the LoggerHook), with the config named by the config file mmengine dumps into the
  work dir (``<work_dir>/<config name>.py``) and the checkpoint read from the run's
  ``<timestamp>/vis_data/config.py`` (``load_from``).

A run is matched to its model-zoo entry in ``configs/*/metafile.yml`` by its checkpoint when that
is ``official:NAME`` (the entry whose ``HVT.Official.Name``, or else ``Name``, is NAME), otherwise
by the stem of its config file (the entry's ``Config``). The paper's numbers come from the entry's
``Results[].Metrics``; for a run of the official checkpoint, ``HVT.Official.Metrics`` (the
numbers published for that checkpoint) override them.

mmengine metric keys and metafile names:

    accuracy/top1 -> Top 1 Accuracy     coco/bbox_mAP -> box AP     mIoU    -> mIoU
    accuracy/top5 -> Top 5 Accuracy     coco/segm_mAP -> mask AP    coco/AP -> AP (mmpose)

mmdet and mmpose report fractions (0-1); they are printed in percent, like the metafiles.
The tables (one per benchmark, rows in metafile order) go to stdout and ``--out-md``; ``--out-png``
draws paper vs HVT as grouped bars. Runs that match no entry are listed as warnings.
"""
import argparse
import ast
import glob
import json
import math
import os.path as osp
import re
import sys

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)  # run from a clone, too
from model_zoo import load_metafiles  # noqa: E402

# mmengine metric key -> (metafile metric name, factor to percent)
METRICS = {
    'accuracy/top1': ('Top 1 Accuracy', 1),
    'accuracy/top5': ('Top 5 Accuracy', 1),
    'coco/bbox_mAP': ('box AP', 100),
    'coco/segm_mAP': ('mask AP', 100),
    'mIoU': ('mIoU', 1),
    'coco/AP': ('AP', 100),
}
# the benchmark of a metric when the entry's Results do not say
DEFAULT_DATASET = {'Top 1 Accuracy': 'ImageNet-1k', 'Top 5 Accuracy': 'ImageNet-1k',
                   'box AP': 'COCO', 'mask AP': 'COCO', 'mIoU': 'ADE20K', 'AP': 'AP-10K'}
METRICS_JSON = 'metrics.json'
TIMESTAMP = re.compile(r'^\d{8}_\d{6}$')
DASH = '–'
LOOKED_FOR = (f'{METRICS_JSON} (written by tools/test.py) or <timestamp>/<timestamp>.json '
              '(the test metrics mmengine writes)')


class NoResults(Exception):
    """A work dir holds no test results."""


# ----------------------------------------------------------------------------------- reading runs
def _timestamped_runs(work_dir):
    """Runs of mmengine's own record: ``<work_dir>/<ts>/<ts>.json`` (written only by a test)."""
    runs = []
    for folder in sorted(glob.glob(osp.join(work_dir, '*', ''))):
        ts = osp.basename(osp.normpath(folder))
        path = osp.join(folder, f'{ts}.json')
        if not TIMESTAMP.match(ts) or not osp.isfile(path):
            continue
        with open(path) as f:
            text = f.read().strip()
        if not text:
            continue
        try:
            metrics = json.loads(text)
        except json.JSONDecodeError:  # JSON lines: the last record is the final one
            metrics = json.loads(text.splitlines()[-1])
        runs.append(dict(work_dir=work_dir, source=path, timestamp=ts, metrics=metrics,
                         config=None, checkpoint=_load_from(osp.join(folder, 'vis_data',
                                                                     'config.py'))))
    return runs


def _load_from(dumped_config):
    """``load_from`` of a config dumped by mmengine (a plain Python literal), or None."""
    if not osp.isfile(dumped_config):
        return None
    with open(dumped_config) as f:
        found = re.search(r'^load_from\s*=\s*(.+)$', f.read(), re.M)
    try:
        return ast.literal_eval(found.group(1)) if found else None
    except (ValueError, SyntaxError):
        return None


def _dumped_config(work_dir):
    """The config file mmengine dumped into the work dir (the newest if several)."""
    found = [p for p in glob.glob(osp.join(work_dir, '*.py')) if osp.isfile(p)]
    return max(found, key=osp.getmtime) if found else None


def read_run(work_dir):
    """The newest test run in ``work_dir`` as a dict (work_dir, source, timestamp, config,
    checkpoint, metrics); raises :class:`NoResults` naming what was looked for."""
    if not osp.isdir(work_dir):
        raise NoResults(f'{work_dir}: no such directory (expected the --work-dir of a '
                        f'tools/test.py run, holding {LOOKED_FOR})')
    runs = _timestamped_runs(work_dir)
    own = osp.join(work_dir, METRICS_JSON)
    if osp.isfile(own):
        with open(own) as f:
            record = json.load(f)
        runs = [r for r in runs if r['timestamp'] != record.get('timestamp')]
        runs.append(dict(record, work_dir=work_dir, source=own,
                         timestamp=record.get('timestamp') or ''))
    if not runs:
        raise NoResults(f'{work_dir}: no test results found: looked for {LOOKED_FOR}; run '
                        f'`python tools/test.py CONFIG CHECKPOINT --work-dir {work_dir}` first')
    run = max(runs, key=lambda r: (r['timestamp'], r['source'].endswith(METRICS_JSON)))
    if not run.get('config'):
        run['config'] = _dumped_config(work_dir)
    return run


# --------------------------------------------------------------------------------------- matching
def _stem(path):
    return osp.splitext(osp.basename(path))[0] if path else None


def _official(entry):
    return (entry.get('HVT') or {}).get('Official') or {}


def match_entry(run, entries):
    """``(entry, official)`` for a run, or ``(None, False)``."""
    ckpt = run.get('checkpoint')
    if isinstance(ckpt, str) and ckpt.startswith('official:'):
        name = ckpt.split(':')[1]  # official:NAME or official:NAME:FORM
        for entry in entries:
            if _official(entry).get('Name') == name:
                return entry, True
        for entry in entries:
            if entry['Name'] == name:
                return entry, bool(_official(entry))
    stem = _stem(run.get('config'))
    same = [e for e in entries if e.get('Config') and _stem(e['Config']) == stem]
    # entries sharing a config: the one named after it, else the first without Cfg Options
    named = [e for e in same if e['Name'] == stem]
    plain = [e for e in same if not (e.get('HVT') or {}).get('Cfg Options')]
    chosen = (named or plain or same or [None])[0]
    return chosen, False


def paper_metric(entry, name, official):
    """``(value or None, dataset)`` of metric ``name`` in an entry."""
    value, dataset = None, None
    for res in entry.get('Results') or []:
        metrics = res.get('Metrics') or {}
        if name in metrics:
            value, dataset = metrics[name], res.get('Dataset')
            break
    if official:
        over = _official(entry).get('Metrics') or {}
        if name in over:
            value = over[name]
    if dataset is None:
        results = entry.get('Results') or []
        dataset = DEFAULT_DATASET.get(name) or (results[0].get('Dataset') if results else None)
    return (None if value is None else float(value)), dataset or 'other'


def table_rows(runs, entries):
    """``(rows, warnings)``: one row per (run, known metric), in metafile order."""
    index = {e['Name']: i for i, e in enumerate(entries)}
    rows, warnings = [], []
    for order, run in enumerate(runs):
        entry, official = match_entry(run, entries)
        what = f'config {run.get("config") or "(none found)"}, checkpoint {run.get("checkpoint")}'
        if entry is None:
            warnings.append(f'{run["work_dir"]}: the run ({what}) matches no metafile entry '
                            f'(no entry has Config stem {_stem(run.get("config"))!r}'
                            + (f' or official name {run["checkpoint"].split(":")[1]!r}'
                               if str(run.get('checkpoint')).startswith('official:') else '')
                            + '); left out of the table')
            continue
        found = False
        for key, (name, factor) in METRICS.items():
            value = run['metrics'].get(key)
            if not isinstance(value, (int, float)):
                continue
            found = True
            measured = float(value) * factor
            paper, dataset = paper_metric(entry, name, official)
            rows.append(dict(model=entry['Name'], metric=name, paper=paper, hvt=measured,
                             delta=None if paper is None else measured - paper, dataset=dataset,
                             work_dir=run['work_dir'], official=official,
                             _key=(index[entry['Name']], order, list(METRICS).index(key))))
        if not found:
            warnings.append(f'{run["work_dir"]}: the run ({what}) has none of the metrics '
                            f'{", ".join(METRICS)} (it has: {", ".join(run["metrics"]) or "none"})')
    rows.sort(key=lambda r: r['_key'])
    # tell apart several runs of one entry
    runs_of = {}
    for r in rows:
        runs_of.setdefault(r['model'], set()).add(r['work_dir'])
    for r in rows:
        if len(runs_of[r['model']]) > 1:
            r['model'] = f'{r["model"]} ({osp.basename(osp.normpath(r["work_dir"]))})'
    return rows, warnings


def grouped(rows):
    """``[(dataset, rows)]``, datasets in the order of their first row."""
    groups = {}
    for r in rows:
        groups.setdefault(r['dataset'], []).append(r)
    return list(groups.items())


# ------------------------------------------------------------------------------------- formatting
def _num(value, fmt):
    return DASH if value is None else format(value, fmt)


def markdown(rows, warnings):
    out = []
    for dataset, members in grouped(rows):
        out += [f'### {dataset}', '',
                '| Model | Metric | Paper | HVT | Δ |', '|---|---|---:|---:|---:|']
        for r in members:
            model = r['model'] + (' (official checkpoint)' if r['official'] else '')
            out.append(f'| {model} | {r["metric"]} | {_num(r["paper"], "g")} | '
                       f'{_num(r["hvt"], ".2f")} | {_num(r["delta"], "+.1f")} |')
        out.append('')
    if not rows:
        out += ['No run matched a metafile entry.', '']
    if warnings:
        out += ['Not in the table:', ''] + [f'- {w}' for w in warnings] + ['']
    return '\n'.join(out)


def plot(rows, path):
    """Grouped bars, paper vs HVT, one panel per benchmark."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    groups = grouped(rows) or [('no results', [])]
    widths = [max(2, len(m)) for _, m in groups]
    fig, axes = plt.subplots(1, len(groups), figsize=(1.6 * sum(widths) + 1.5, 4.8),
                             gridspec_kw=dict(width_ratios=widths), squeeze=False)
    for ax, (dataset, members) in zip(axes[0], groups):
        xs = range(len(members))
        for shift, key, label, color in ((-0.2, 'paper', 'paper', '#9e9e9e'),
                                         (0.2, 'hvt', 'HVT', '#1f77b4')):
            vals = [r[key] for r in members]
            bars = ax.bar([x + shift for x in xs], [0 if v is None else v for v in vals], 0.4,
                          label=label, color=color)
            for bar, v in zip(bars, vals):
                ax.annotate(DASH if v is None else f'{v:.1f}',
                            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha='center', va='bottom', fontsize=8)
        ax.set_xlim(-0.7, max(len(members), 2) - 0.3)
        ax.set_xticks(list(xs))
        ax.set_xticklabels([f'{r["model"]}\n{r["metric"]}' for r in members], rotation=20,
                           ha='right', fontsize=8)
        ax.set_title(dataset)
        ax.set_ylabel('%')
        top = max([v for r in members for v in (r['paper'], r['hvt']) if v is not None] + [1])
        ax.set_ylim(0, top * 1.15 if math.isfinite(top) else 100)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ------------------------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('work_dirs', nargs='+', metavar='WORK_DIR',
                   help='--work-dir of a tools/test.py run (its newest run is used)')
    p.add_argument('--out-md', metavar='FILE', help='write the Markdown tables here')
    p.add_argument('--out-png', metavar='FILE', help='draw paper vs HVT as grouped bars here')
    p.add_argument('--metafile', metavar='FILE', action='append',
                   help='read these metafiles instead of configs/*/metafile.yml (repeatable)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    runs, errors = [], []
    for work_dir in args.work_dirs:
        try:
            runs.append(read_run(work_dir))
        except NoResults as exc:
            errors.append(str(exc))
    if errors:
        raise SystemExit('paper_table.py: error: ' + '\n  '.join(errors))
    _, entries = load_metafiles(args.metafile)
    rows, warnings = table_rows(runs, entries)
    for w in warnings:
        print(f'warning: {w}', file=sys.stderr)
    text = markdown(rows, warnings)
    print(text)
    if args.out_md:
        with open(args.out_md, 'w') as f:
            f.write(text)
        print(f'wrote {args.out_md}')
    if args.out_png:
        plot(rows, args.out_png)
        print(f'wrote {args.out_png}')
    return rows


if __name__ == '__main__':
    main()
