"""Fetch an official checkpoint by name: download, check, convert, cache, and say how to test it.

    python tools/misc/fetch_weights.py --list                 # every official checkpoint
    python tools/misc/fetch_weights.py vitaev2-s_in1k         # download + convert (cached)
    python tools/misc/fetch_weights.py dualvit-s_in1k --file ~/Downloads/dualvit_s.pth
                                                              # a file downloaded by hand (Baidu)
    python tools/misc/fetch_weights.py dualvit-s_in1k:dense   # another conversion of the same file

The catalog is the ``HVT.Official`` blocks of ``configs/*/metafile.yml``; the converted file goes
to ``$HVT_CACHE/checkpoints`` (default ``~/.cache/hvt/checkpoints``) and configs reach it as
``official:NAME``. See :mod:`hvt.engine.weights` and docs/official_weights.md.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from hvt.engine.weights import (ManualDownloadRequired, WeightsError, catalog,  # noqa: E402
                                eval_command, expected_metrics, fetch, get_entry, split_name)


def list_catalog() -> None:
    entries = list(catalog().values())
    width = max(len(e.name) for e in entries)
    kinds = max(len(e.kinds()) for e in entries)
    for e in entries:
        forms = f'  (forms: {", ".join(sorted(e.forms))})' if e.forms else ''
        print(f'{e.name:<{width}}  {e.kinds():<{kinds}}  {e.config or "-"}{forms}')
    print(f'{len(entries)} official checkpoints')


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description='Download, check and convert an official checkpoint.')
    p.add_argument('name', nargs='?', help='catalog name (see --list), optionally NAME:FORM')
    p.add_argument('--list', action='store_true', help='list the catalog: name, source, config')
    p.add_argument('--file', help='use this official file (downloaded by hand) instead of '
                   'downloading it')
    args = p.parse_args(argv)
    if args.list:
        list_catalog()
        return 0
    if not args.name:
        p.error('give a NAME or --list')
    try:
        entry = get_entry(args.name)
        path = fetch(args.name, file=args.file)
    except ManualDownloadRequired as exc:
        print(f'[fetch_weights] {exc}', file=sys.stderr)
        return 2
    except (KeyError, WeightsError, FileNotFoundError, ValueError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) else str(exc)
        print(f'[fetch_weights] error: {msg}', file=sys.stderr)
        return 1
    print(f'[fetch_weights] {entry.name}: ready at {path}')
    if entry.note:
        print(f'[fetch_weights] note: {entry.note}')
    cmd = eval_command(entry, split_name(args.name)[1])
    if cmd:
        print(f'[fetch_weights] evaluate it with:\n    {cmd}')
        print(f'[fetch_weights] which should reproduce: {expected_metrics(entry)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
