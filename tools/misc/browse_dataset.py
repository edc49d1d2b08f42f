"""Draw the samples of a config's dataset after its pipeline (augmentations included) as PNGs.

    python tools/misc/browse_dataset.py CONFIG --output-dir vis/ --max-items 20
    python tools/misc/browse_dataset.py CONFIG --output-dir vis/ --phase val \
        --cfg-options train_dataloader.dataset.data_root=data/my_coco/

Works for every task (classification labels, detection boxes and masks, segmentation masks,
top-down pose keypoints in the cropped input), drawn with the task library's visualizer. What you
see is what the model is fed: the image after resizing, cropping, flipping and colour jitter.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import mmcv  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmengine.registry import DATASETS, DefaultScope  # noqa: E402

from hvt.apis.inference import draw_sample, scope_of_task, task_of  # noqa: E402
from hvt.engine.cli import check_data_paths, load_config  # noqa: E402

PHASES = ('train', 'val', 'test')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config', help='config file')
    p.add_argument('--output-dir', required=True, help='folder for the PNGs (created)')
    p.add_argument('--max-items', type=int, default=20, help='samples to draw (default 20)')
    p.add_argument('--phase', choices=PHASES, default='train',
                   help='which dataloader\'s dataset and pipeline (default: train)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config keys (as in tools/train.py)')
    args = p.parse_args(argv)
    if args.max_items < 1:
        p.error(f'--max-items must be at least 1, got {args.max_items}')
    return args


def build_dataset(cfg, phase):
    loader = f'{phase}_dataloader'
    if not isinstance(cfg.get(loader), dict):
        raise KeyError(f'the config has no {loader}; phases with a dataloader: '
                       f'{[p for p in PHASES if isinstance(cfg.get(f"{p}_dataloader"), dict)]}')
    check_data_paths(cfg, loaders=(loader, ))
    dataset_cfg = cfg[loader]['dataset']
    if task_of(cfg) == 'pose':  # keep the keypoints in the frame of the cropped input
        dataset_cfg['pipeline'][-1]['pack_transformed'] = True
    return DATASETS.build(dataset_cfg)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    task = task_of(cfg)
    os.makedirs(args.output_dir, exist_ok=True)
    with DefaultScope.overwrite_default_scope(scope_of_task(task)):
        dataset = build_dataset(cfg, args.phase)
        meta = dataset.metainfo
        n = min(args.max_items, len(dataset))
        for i in range(n):
            item = dataset[i]
            sample = item['data_samples']
            image = item['inputs'].permute(1, 2, 0).numpy()[..., ::-1].copy()  # BGR -> RGB
            seg = sample.get('gt_sem_seg')
            if seg is not None and tuple(seg.shape) != image.shape[:2]:
                # mmseg's test pipelines load the mask after resizing: draw at the mask's size
                image = mmcv.imresize(image, tuple(seg.shape)[::-1])
            name = osp.splitext(osp.basename(sample.metainfo.get('img_path') or f'{i}'))[0]
            out = osp.join(args.output_dir, f'{i:04d}_{name}.png')
            draw_sample(task, image, sample, meta, out, gt=True)
    print(f'[browse_dataset] {n} {args.phase} samples of a {task} dataset '
          f'({type(dataset).__name__}, {len(dataset)} items) -> {args.output_dir}')


if __name__ == '__main__':
    main()
