"""The model zoo: parameters (and FLOPs) of every HVT variant against the papers and the official models.

    python tools/analysis/model_zoo.py                 # table: params vs paper and official count
    python tools/analysis/model_zoo.py --check         # exit 1 if a count is outside its tolerance
    python tools/analysis/model_zoo.py --flops         # also count FLOPs (real tensors; slow)
    python tools/analysis/model_zoo.py --readme README.md   # regenerate the README model-zoo table
    python tools/analysis/model_zoo.py --markdown zoo.md    # write that table to a file

The data live in ``configs/<family>/metafile.yml`` (OpenMMLab metafile format; listed in
``model-index.yml``), nowhere else.
Each model entry has ``Name``, ``In Collection``, ``Config`` (the classification config),
``Metadata: Parameters / FLOPs`` as printed in the paper at the entry's input size, ``Results``
(the paper's top-1), and an ``HVT`` block read by this tool:

``Resolution``              input size of the entry (default 224);
``Cfg Options``             overrides merged into ``Config`` (a variant without its own config);
``Model``                   the model dict to build when there is no config (``Scope``: the
                            registry scope to build it in, default ``mmpretrain``);
``Params``                  the official model's parameter count, measured from the official
                            code (1000-class head included);
``Params Tolerance``        allowed ``|measured - Params|``: an integer (absolute; 0 = exact, the
                            default) or ``'x%'`` (relative), e.g. half the last printed digit
                            when only millions with two decimals are known;
``Paper Params Tolerance``  allowed ``|measured - Metadata.Parameters|`` where one is stated;
``FLOPs``                   FLOPs measured from the official code, in the paper's convention;
``Paper FLOPs Factor``      the paper's FLOPs are this many times the MACs (2 for ViTAE-B/L/H);
``Note``                    one line printed under the family's table.

Each collection's ``HVT`` block names its design notes and the FLOP convention of the paper's
rows.

Entries with an ``HVT.Official`` block describe a published official checkpoint (the catalog of
``tools/misc/fetch_weights.py``; format in ``hvt/engine/weights.py``); the README tables show its
links in the "Official weights" column. Entries without a parameter count (downstream,
pre-training and teacher checkpoints) are listed under their family's table, not measured.

Parameters are counted on the meta device (``sum(p.numel())``, frozen parameters included, buffers
not), so the whole zoo takes seconds; ``--check`` tests them. ``--flops`` builds every model on the
CPU and counts FLOPs with ``tools/analysis/get_flops.py``'s convention: mmengine's FlopAnalyzer
(fvcore), one multiply-accumulate = one FLOP, convolutions, linear layers and all attention
matmuls included, at batch 1 over the whole classifier. That takes minutes (ViTAE-H alone needs
about 3 GB of RAM); use ``--only REGEX`` to select entries.
"""
import argparse
import json
import os.path as osp
import re
import sys
import time

import torch
import yaml

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))
sys.path.insert(0, HERE)
from get_flops import build_model, count_flops, n_params, quiet_logs  # noqa: E402

START, END = '<!-- model-zoo:start -->', '<!-- model-zoo:end -->'


# ------------------------------------------------------------------------------------ metafiles
# one reader for the metafiles, shared with hvt.engine.weights and paper_table.py
from hvt.engine.model_index import (hvt_fields, is_counted, load_metafiles,  # noqa: E402,F401
                                    metafile_paths)


def hvt(entry):
    return hvt_fields(entry)


def tolerance(spec, reference):
    """Absolute tolerance from an int/float (absolute) or an ``'x%'`` string (of reference)."""
    if spec is None:
        return 0
    if isinstance(spec, str):
        s = spec.strip()
        if not s.endswith('%'):
            raise ValueError(f'tolerance {spec!r}: use an integer or a percentage like "1%"')
        return abs(reference) * float(s[:-1]) / 100
    return float(spec)


def model_cfg_of(entry):
    """``(model_cfg, scope)`` of an entry: its config (plus Cfg Options) or its HVT.Model."""
    from mmengine.config import Config, ConfigDict
    h = hvt(entry)
    if entry.get('Config'):
        # hvt.models is imported by build_model; no other custom import is needed to build
        cfg = Config.fromfile(osp.join(ROOT, entry['Config']), import_custom_modules=False)
        if h.get('Cfg Options'):
            cfg.merge_from_dict(h['Cfg Options'])
        return cfg.model, cfg.get('default_scope', 'mmpretrain')
    return ConfigDict(h['Model']), h.get('Scope', 'mmpretrain')


# ------------------------------------------------------------------------------------- measuring
def base_row(entry):
    """The metafile's numbers for an entry, before anything is measured."""
    h = hvt(entry)
    meta = entry.get('Metadata') or {}
    return dict(name=entry['Name'], collection=entry['In Collection'],
                config=entry.get('Config'), resolution=int(h.get('Resolution', 224)),
                paper_params=meta.get('Parameters'), paper_flops=meta.get('FLOPs'),
                spec_params=h.get('Params'), spec_flops=h.get('FLOPs'),
                flops_factor=h.get('Paper FLOPs Factor', 1), params=None, errors=[])


def measure(entry, flops=False):
    """One result row for an entry: counted params (meta device), checks, optional FLOPs."""
    h = hvt(entry)
    row = base_row(entry)
    model_cfg, scope = model_cfg_of(entry)
    model = build_model(model_cfg, scope, device='meta')
    row['params'] = count = n_params(model)
    row['backbone'] = _arch_key(model_cfg)
    del model
    if row['spec_params'] is not None:
        tol = tolerance(h.get('Params Tolerance', 0), row['spec_params'])
        row['spec_tol'] = tol
        if abs(count - row['spec_params']) > tol:
            row['errors'].append(f'params {count:,} differ from the official count {row["spec_params"]:,} '
                                 f'by {count - row["spec_params"]:+,} (tolerance {tol:,.0f})')
    if h.get('Paper Params Tolerance') is not None and row['paper_params']:
        tol = tolerance(h['Paper Params Tolerance'], row['paper_params'])
        row['paper_tol'] = tol
        if abs(count - row['paper_params']) > tol:
            row['errors'].append(f'params {count:,} differ from the paper {row["paper_params"]:,} '
                                 f'by {count - row["paper_params"]:+,} (tolerance {tol:,.0f})')
    if flops:
        model = build_model(model_cfg, scope)
        res = row['resolution']
        row['flops'] = count_flops(model, (res, res))
        del model
    return row


def _arch_key(model_cfg):
    """``(backbone type, canonical arch)`` for the coverage report, or None."""
    bb = model_cfg.get('backbone') if hasattr(model_cfg, 'get') else None
    if not bb or 'arch' not in bb:
        return None
    return str(bb['type']).split('.')[-1], bb['arch']


def _canon(arch):
    return json.dumps(arch, sort_keys=True, default=str)


def uncovered_archs(rows):
    """Registered ``arch_zoo`` entries of hvt backbones that no metafile entry builds."""
    import hvt.models  # noqa: F401
    from hvt.registry import MODELS
    covered = {}
    for row in rows:
        if row.get('backbone'):
            covered.setdefault(row['backbone'][0], []).append(row['backbone'][1])
    missing = []
    for name, cls in sorted(MODELS.module_dict.items()):
        zoo = cls.__dict__.get('arch_zoo') if isinstance(cls, type) else None
        if not zoo or name not in covered:
            continue
        have = set()
        for arch in covered[name]:
            if isinstance(arch, str):
                arch = zoo.get(arch, zoo.get(arch.lower(), arch))
            have.add(_canon(arch))
        keys = [k for k, v in zoo.items() if _canon(v) not in have]
        if keys:
            missing.append(f'{name}: {", ".join(keys)}')
    return missing


# ------------------------------------------------------------------------------------ formatting
def _m(value, digits=2):
    return '–' if value is None else f'{value / 1e6:.{digits}f}'


def _g(value, digits=2):
    return '–' if value is None else f'{value / 1e9:.{digits}f}'


def _printed(value, unit):
    """A paper number in millions / billions with one or two decimals (23.4, 44.5, 0.01)."""
    if value is None:
        return '–'
    s = f'{value / unit:.2f}'
    return s[:-1] if s.endswith('0') else s


def _delta(value, ref):
    if value is None or not ref:
        return ''
    return f'{100 * (value - ref) / ref:+.1f}%'


def console_table(rows, flops=False):
    head = ['model', 'input', 'params', 'official', 'Δofficial', 'paper', 'Δpaper']
    if flops:
        head += ['GFLOPs', 'paper', 'Δpaper', 'official', 'Δofficial']
    head += ['check']
    lines = []
    for r in rows:
        p = r.get('params')
        line = [r['name'], str(r['resolution']),
                f'{p:,}' if p is not None else 'ERROR',
                f'{r["spec_params"]:,}' if r['spec_params'] is not None else '–',
                '' if r['spec_params'] is None or p is None else f'{p - r["spec_params"]:+,}',
                _m(r['paper_params'], 1), _delta(p, r['paper_params'])]
        if flops:
            f = r.get('flops')
            paper_macs = (r['paper_flops'] / r['flops_factor']) if r['paper_flops'] else None
            line += [_g(f), _g(r['paper_flops'], 1) + (f' (={r["flops_factor"]}×MACs)'
                                                         if r['flops_factor'] != 1 else ''),
                     _delta(f, paper_macs), _g(r['spec_flops']), _delta(f, r['spec_flops'])]
        line.append('FAIL' if r['errors'] else ('ok' if _checked(r) else '–'))
        lines.append(line)
    widths = [max(len(x[i]) for x in [head] + lines) for i in range(len(head))]
    out = ['  '.join(h.ljust(w) for h, w in zip(head, widths)),
           '  '.join('-' * w for w in widths)]
    out += ['  '.join(c.ljust(w) for c, w in zip(line, widths)) for line in lines]
    return '\n'.join(out)


def _checked(row):
    return row['spec_params'] is not None or 'paper_tol' in row


def markdown(collections, entries, rows):
    """The README's model-zoo section body (one table per collection)."""
    by_name = {r['name']: r for r in rows}
    out = ['<!-- generated by tools/analysis/model_zoo.py from configs/*/metafile.yml; '
           'do not edit by hand: run `python tools/analysis/model_zoo.py --readme README.md` -->',
           '',
           'Params are counted from the built modules by `tools/analysis/model_zoo.py` (1000-class '
           'head included); `--check` holds them to the official models\' counts (measured from '
           'the official code). Paper columns are as printed. '
           'FLOPs follow each paper\'s convention (multiply-accumulates, attention matmuls '
           'included, unless a note says otherwise); `model_zoo.py --flops` and '
           '`tools/analysis/get_flops.py` measure them.']
    for cname, col in collections.items():
        family = [e for e in entries if e['In Collection'] == cname]
        members = [e for e in family if e['Name'] in by_name]
        if not family:
            continue
        paper = col.get('Paper') or {}
        title = f'### {cname}'
        out += ['', title, '']
        if paper.get('URL'):
            out += [f'[{paper.get("Title", "paper")}]({paper["URL"]}) · '
                    f'[metafile]({col["_metafile"]})', '']
        out += ['| Model | Input | Params (M) | Paper params (M) | Paper FLOPs (G) | Top-1 (%) '
                '| Config | Official weights |',
                '|---|---|---|---|---|---|---|---|']
        notes = []
        for e in members:
            r = by_name[e['Name']]
            meta = e.get('Metadata') or {}
            top1 = _top1(e)
            flops = _printed(meta.get('FLOPs'), 1e9)
            factor = hvt(e).get('Paper FLOPs Factor', 1)
            if factor != 1 and meta.get('FLOPs'):
                flops += f' ({factor}×MACs)'
            out.append(f'| {e["Name"]} | {r["resolution"]} | {_m(r["params"])} | '
                       f'{_printed(meta.get("Parameters"), 1e6)} | {flops} | {top1} | '
                       f'{_config_cell(e)} | {_weights_cell(e)} |')
            if hvt(e).get('Note'):
                notes.append(f'- {e["Name"]}: {hvt(e)["Note"]}')
        if notes:
            out += [''] + notes
        others = [e for e in family if e['Name'] not in by_name and _official(e)]
        if others:
            out += ['', f'Other official {cname} checkpoints (downstream, pre-training, teachers):',
                    '', '| Model | Task | Metrics (paper) | Config | Official weights |',
                    '|---|---|---|---|---|']
            for e in others:
                out.append(f'| {e["Name"]} | {_tasks(e)} | {_metrics(e)} | {_config_cell(e)} | '
                           f'{_weights_cell(e)} |')
        # the first checkpoint tools/test.py can evaluate (pre-training ones have no metric of
        # their own)
        first = next((e for e in family if _official(e) and _evaluable(e)), None)
        if first is not None:
            name = _official(first)['Name']
            out += ['', f'Reproduce: `python tools/misc/fetch_weights.py {name}`, then '
                    f'`python tools/test.py {first["Config"]} official:{name}` '
                    f'(paper: {_metrics(first)}).']
    return '\n'.join(out) + '\n'


def _official(entry):
    return hvt(entry).get('Official')


def _evaluable(entry):
    return any(r.get('Task') != 'Masked Image Modeling' and r.get('Metrics')
               for r in entry.get('Results') or [])


SOURCE_LABELS = {'gdrive': 'Google Drive', 'gdrive-folder': 'Google Drive folder',
                 'onedrive': 'OneDrive', 'baidu': 'Baidu', 'http': 'download'}


def _weights_cell(entry):
    """``name``: a link per official source (Baidu with its password), or '–'."""
    off = _official(entry)
    if not off:
        return '–'
    from hvt.engine.weights import Source
    links = []
    for s in off['Sources']:
        src = Source(s['Type'], s['File'], s.get('Id'), s.get('URL'), s.get('Password'))
        label = SOURCE_LABELS[src.type] + (f' (code {src.password})' if src.password else '')
        links.append(f'[{label}]({src.link()})')
    return f'`{off["Name"]}`: ' + ', '.join(links)


def _tasks(entry):
    return ', '.join(dict.fromkeys(r.get('Task', '') for r in entry.get('Results') or [])) or '–'


def _metrics(entry):
    parts = []
    for res in entry.get('Results') or []:
        for k, v in (res.get('Metrics') or {}).items():
            parts.append(f'{k} {v}')
    return ', '.join(dict.fromkeys(parts)) or '–'


def _top1(entry):
    for res in entry.get('Results') or []:
        v = (res.get('Metrics') or {}).get('Top 1 Accuracy')
        if v is not None:
            return f'{v}'
    return '–'


def _config_cell(entry):
    h = hvt(entry)
    if entry.get('Config'):
        cell = f'[{osp.basename(entry["Config"])}]({entry["Config"]})'
        if h.get('Cfg Options'):
            opts = ', '.join(f'`{k}={v}`' for k, v in h['Cfg Options'].items())
            cell += f' with {opts}'
        return cell
    return f'model dict in [metafile]({entry["_metafile"]})'


def replace_readme_block(text, block):
    if START not in text or END not in text:
        raise SystemExit(f'README has no {START} ... {END} markers')
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f'{head}{START}\n{block}{END}{tail}'


def readme_block(text):
    """The text between the README markers (what --markdown writes)."""
    return text.split(START, 1)[1].split(END, 1)[0].lstrip('\n')


# ------------------------------------------------------------------------------------------ main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--check', action='store_true',
                   help='exit 1 when any parameter count is outside its tolerance')
    p.add_argument('--flops', action='store_true',
                   help='also count FLOPs on the CPU with real tensors (slow)')
    p.add_argument('--only', metavar='REGEX', help='only entries whose name matches')
    p.add_argument('--markdown', metavar='FILE', help='write the model-zoo markdown table')
    p.add_argument('--readme', metavar='FILE',
                   help='replace the model-zoo block of this README (between the markers)')
    p.add_argument('--json', metavar='FILE', help='write all rows as JSON')
    p.add_argument('--metafile', metavar='FILE', action='append',
                   help='read these metafiles instead of configs/*/metafile.yml (repeatable)')
    p.add_argument('--threads', type=int, default=None, help='torch threads for --flops')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.only and (args.markdown or args.readme):
        raise SystemExit('--markdown / --readme need the whole zoo; drop --only')
    if args.threads:
        torch.set_num_threads(args.threads)
    quiet_logs()
    collections, all_entries = load_metafiles(args.metafile)
    # the counted variants; downstream / pre-training / teacher checkpoints only appear in the
    # markdown's weight tables
    entries = [e for e in all_entries if is_counted(e)]
    if args.only:
        entries = [e for e in entries if re.search(args.only, e['Name'])]
    rows, t_all = [], time.perf_counter()
    for i, entry in enumerate(entries, 1):
        t0 = time.perf_counter()
        print(f'[{i}/{len(entries)}] {entry["Name"]} ...', end=' ', file=sys.stderr, flush=True)
        try:
            row = measure(entry, flops=args.flops)
        except Exception as exc:  # report every entry, then fail
            row = base_row(entry)
            row['errors'].append(f'build failed: {type(exc).__name__}: {exc}')
        rows.append(row)
        msg = f'{row["params"]:,} params' if row.get('params') is not None else 'BUILD FAILED'
        if row.get('flops') is not None:
            msg += f', {row["flops"] / 1e9:.3f} GFLOPs'
        print(f'{msg} ({time.perf_counter() - t0:.1f} s)', file=sys.stderr, flush=True)
    print(console_table(rows, args.flops))
    failures = [r for r in rows if r['errors']]
    for r in failures:
        for err in r['errors']:
            print(f'FAIL {r["name"]}: {err}')
    if not args.only and not args.metafile:
        for line in uncovered_archs(rows):
            print(f'note: registered archs built by no metafile entry: {line}')
    n_checked = sum(_checked(r) for r in rows)
    print(f'{len(rows)} entries, {n_checked} checked against the official count, {len(failures)} '
          f'failing ({time.perf_counter() - t_all:.1f} s)')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1, default=str)
    if args.markdown or args.readme:
        block = markdown(collections, all_entries, rows)
        if args.markdown:
            with open(args.markdown, 'w') as f:
                f.write(block)
            print(f'wrote {args.markdown}')
        if args.readme:
            with open(args.readme) as f:
                text = f.read()
            new = replace_readme_block(text, block)
            if new != text:
                with open(args.readme, 'w') as f:
                    f.write(new)
            print(f'{"updated" if new != text else "unchanged"}: {args.readme}')
    if args.check and failures:
        sys.exit(1)


if __name__ == '__main__':
    main()
