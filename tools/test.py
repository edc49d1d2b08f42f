"""Evaluate a checkpoint with any HVT config and print the task's metrics.

    python tools/test.py CONFIG CHECKPOINT
    python tools/test.py CONFIG CHECKPOINT --out results.pkl --show-dir vis/
    bash tools/dist_test.sh CONFIG CHECKPOINT 8
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone, too

from mmengine.evaluator import DumpResults  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from hvt.engine import register_safe_globals  # noqa: E402
from hvt.engine.checkpoint_io import check_checkpoint_file  # noqa: E402
from hvt.engine.cli import (add_common_args, check_data_paths, enable_show_dir,  # noqa: E402
                            finish_distributed, load_config, setup_runtime)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (evaluate) a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump the raw predictions to this .pkl file')
    parser.add_argument('--show-dir', help='draw the predictions into this folder')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    register_safe_globals()
    check_checkpoint_file(args.checkpoint)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out must end with .pkl or .pickle, got {args.out!r}')
    cfg = load_config(args.config, args.cfg_options)
    setup_runtime(cfg, args)
    cfg.load_from = args.checkpoint
    check_data_paths(cfg, loaders=('test_dataloader', ))
    if args.show_dir:
        enable_show_dir(cfg, args.show_dir)
    runner = Runner.from_cfg(cfg)
    if args.out:
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    runner.test()
    finish_distributed()


if __name__ == '__main__':
    main()
