"""Print a config as the tools see it: ``_base_`` files merged, ``--cfg-options`` applied.

    python tools/misc/print_config.py configs/vitaev2/mask-rcnn_vitaev2-s_fpn_1x_coco.py
    python tools/misc/print_config.py CONFIG --cfg-options model.backbone.drop_path_rate=0.2
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402

from hvt.engine.cli import load_config  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config', help='config file')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config keys, e.g. model.backbone.drop_path_rate=0.2')
    args = p.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    print(cfg.pretty_text)


if __name__ == '__main__':
    main()
