"""Train any HVT config (classification, detection, segmentation, pose, pre-training).

    python tools/train.py configs/vitaev2/vitaev2-s_8xb128_in1k.py
    python tools/train.py CONFIG --work-dir work_dirs/run1 --cfg-options train_dataloader.batch_size=32
    python tools/train.py CONFIG --resume              # continue from work_dir/last_checkpoint
    python tools/train.py CONFIG --check-images        # decode every image first, list the corrupt
    bash tools/dist_train.sh CONFIG 8                  # 8 processes on this node

The task comes from the config's ``default_scope`` (mmpretrain, mmdet, mmseg, mmpose); the
runner is mmengine's.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone, too

from hvt.engine import register_safe_globals  # noqa: E402
from hvt.engine.checkpoint_io import check_checkpoint_file  # noqa: E402
from hvt.engine.weights import local_checkpoint  # noqa: E402
from hvt.engine.fsdp import runner_class  # noqa: E402
from hvt.engine.image_check import (name_failing_images, run_image_check,  # noqa: E402
                                    run_naming_images)
from hvt.engine.cli import (add_common_args, check_data_paths, enable_amp,  # noqa: E402
                            enable_auto_scale_lr, enable_compile, finish_distributed, load_config,
                            setup_runtime)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model (HVT / OpenMMLab config)')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or (no value) from the latest one in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='mixed-precision training: fp16 + dynamic loss scale on CUDA, '
                        'bf16 autocast on the CPU')
    parser.add_argument('--compile', action='store_true',
                        help="torch.compile the model (mmengine's `compile=True`)")
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr to the actual total batch size')
    parser.add_argument('--check-images', action='store_true',
                        help='before training, decode every image of every dataset once (all '
                        'CPUs) and list every corrupt file; exit 1 if there is one')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    register_safe_globals()
    cfg = load_config(args.config, args.cfg_options)
    setup_runtime(cfg, args)
    if args.amp:
        enable_amp(cfg)
    if args.compile:
        enable_compile(cfg)
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
        pointer = osp.join(cfg.work_dir, 'last_checkpoint')
        if osp.isfile(pointer):  # what mmengine will resume from: check it first
            with open(pointer) as f:
                check_checkpoint_file(f.read().strip())
    elif args.resume is not None:
        check_checkpoint_file(args.resume)
        cfg.resume, cfg.load_from = True, args.resume
    if cfg.get('load_from'):  # a path, or official:NAME (rank 0 fetches it)
        cfg.load_from = local_checkpoint(cfg.load_from)
    check_data_paths(cfg)
    if args.check_images and run_image_check(cfg):
        sys.exit(1)
    name_failing_images()  # a corrupt image met in training is named in one last line
    runner = runner_class(cfg).from_cfg(cfg)  # FlexibleRunner for `strategy` configs (FSDP)
    run_naming_images(runner.train, 'train.py', args.config)
    finish_distributed()


if __name__ == '__main__':
    main()
