"""Evaluate a checkpoint with any HVT config and print the task's metrics.

    python tools/test.py CONFIG CHECKPOINT
    python tools/test.py CONFIG official:NAME        # an official checkpoint, fetched on first use
    python tools/test.py CONFIG CHECKPOINT --out results.pkl --show-dir vis/
    python tools/test.py CONFIG CHECKPOINT --check-images   # decode every test image first
    bash tools/dist_test.sh CONFIG CHECKPOINT 8
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone, too

from mmengine.evaluator import DumpResults  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from hvt.engine import atomic_write, register_safe_globals  # noqa: E402
from hvt.engine.cli import (add_common_args, check_data_paths, enable_show_dir,  # noqa: E402
                            finish_distributed, load_config, setup_runtime)
from hvt.engine.image_check import (name_failing_images, run_image_check,  # noqa: E402
                                    run_naming_images)
from hvt.engine.weights import local_checkpoint  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (evaluate) a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file, or official:NAME (see tools/misc/fetch_weights.py --list)')
    parser.add_argument('--out', help='dump the raw predictions to this .pkl file')
    parser.add_argument('--show-dir', help='draw the predictions into this folder')
    parser.add_argument('--check-images', action='store_true',
                        help='before testing, decode every test image once (all CPUs) and list '
                        'every corrupt file; exit 1 if there is one')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    register_safe_globals()
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out must end with .pkl or .pickle, got {args.out!r}')
    cfg = load_config(args.config, args.cfg_options)
    setup_runtime(cfg, args)
    cfg.load_from = local_checkpoint(args.checkpoint)  # rank 0 fetches official:NAME
    check_data_paths(cfg, loaders=('test_dataloader', ))
    if args.check_images and run_image_check(cfg, loaders=('test_dataloader', )):
        sys.exit(1)
    name_failing_images()  # a corrupt image is named in one last line
    if args.show_dir:
        enable_show_dir(cfg, args.show_dir)
    runner = Runner.from_cfg(cfg)
    if args.out:
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    metrics = run_naming_images(runner.test, 'test.py', args.config)
    write_metrics(runner, metrics, args)
    finish_distributed()


def write_metrics(runner, metrics, args):
    """``<work_dir>/metrics.json``: the test metrics with the config and checkpoint that gave them
    (read by tools/analysis/paper_table.py; rank 0 writes it atomically, a rerun replaces it)."""
    from mmengine.dist import is_main_process
    if not is_main_process():
        return
    ckpt = args.checkpoint
    record = dict(config=osp.abspath(args.config),
                  checkpoint=osp.abspath(ckpt) if osp.isfile(ckpt) else ckpt,
                  load_from=runner.cfg.get('load_from'), timestamp=runner.timestamp,
                  log_dir=runner.log_dir, metrics={k: _plain(v) for k, v in metrics.items()})
    atomic_write(json.dumps(record, indent=1, default=str) + '\n',
                 osp.join(runner.work_dir, 'metrics.json'))


def _plain(value):
    """A metric as JSON: numbers (numpy, 0-d tensors) as floats, arrays as lists."""
    if hasattr(value, 'tolist'):
        value = value.tolist()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


if __name__ == '__main__':
    main()
