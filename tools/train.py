"""Train any HVT config (classification, detection, segmentation, pose, pre-training).

    python tools/train.py configs/vitaev2/vitaev2-s_8xb128_in1k.py
    python tools/train.py CONFIG --work-dir work_dirs/run1 --cfg-options train_dataloader.batch_size=32
    python tools/train.py CONFIG --resume              # continue from work_dir/last_checkpoint
    bash tools/dist_train.sh CONFIG 8                  # 8 processes on this node

The task comes from the config's ``default_scope`` (mmpretrain, mmdet, mmseg, mmpose); the
runner is mmengine's.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone, too

from mmengine.runner import Runner  # noqa: E402

from hvt.engine import register_safe_globals  # noqa: E402
from hvt.engine.cli import (add_common_args, enable_amp, enable_auto_scale_lr,  # noqa: E402
                            load_config, setup_runtime)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model (HVT / OpenMMLab config)')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or (no value) from the latest one in the work dir')
    parser.add_argument('--amp', action='store_true', help='mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr to the actual total batch size')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    register_safe_globals()
    cfg = load_config(args.config, args.cfg_options)
    setup_runtime(cfg, args)
    if args.amp:
        enable_amp(cfg)
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume: checkpoint not found: {args.resume!r}')
        cfg.resume, cfg.load_from = True, args.resume
    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
