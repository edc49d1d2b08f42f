"""The generated tiny datasets are deterministic and load unchanged in the mm dataset classes."""
import hashlib
import json
import os

import numpy as np
from PIL import Image

from make_tiny_datasets import AP10K_KEYPOINTS, make_all


def _digest(folder):
    h = hashlib.sha256()
    for root, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            h.update(name.encode())
            with open(os.path.join(root, name), 'rb') as f:
                h.update(f.read())
    return h.hexdigest()


def test_deterministic_under_seed(tmp_path):
    make_all(str(tmp_path / 'a'), tasks=('coco', 'ade'), seed=3)
    make_all(str(tmp_path / 'b'), tasks=('coco', 'ade'), seed=3)
    make_all(str(tmp_path / 'c'), tasks=('coco', 'ade'), seed=4)
    assert _digest(tmp_path / 'a') == _digest(tmp_path / 'b')
    assert _digest(tmp_path / 'a') != _digest(tmp_path / 'c')


def test_imagenet_format_loads(tiny_data):
    from mmpretrain.datasets import CustomDataset, ImageNet
    ds = ImageNet(data_root=str(tiny_data / 'imagenet'), split='', ann_file='meta/val.txt',
                  data_prefix='val', pipeline=[])
    assert len(ds) == 4 * 8
    assert sorted({int(ds.get_gt_labels()[i]) for i in range(len(ds))}) == [0, 1, 2, 3]
    # the same tree is a valid one-folder-per-class CustomDataset (the fine-tuning route)
    folder = CustomDataset(data_root=str(tiny_data / 'imagenet'), data_prefix='train', pipeline=[])
    assert folder.CLASSES == ('circle', 'square', 'star', 'triangle')
    assert len(folder) == 4 * 24


def test_coco_format_loads(tiny_data):
    from mmdet.datasets import CocoDataset
    ds = CocoDataset(data_root=str(tiny_data / 'coco'), ann_file='annotations/instances_val2017.json',
                     data_prefix=dict(img='val2017/'),
                     metainfo=dict(classes=('circle', 'square', 'triangle')), pipeline=[])
    assert len(ds) == 8
    info = ds.get_data_info(0)
    assert os.path.isfile(info['img_path'])
    inst = info['instances'][0]
    x1, y1, x2, y2 = inst['bbox']
    assert 0 <= x1 < x2 <= info['width'] and 0 <= y1 < y2 <= info['height']
    poly = np.array(inst['mask'][0]).reshape(-1, 2)
    assert (poly[:, 0].min() >= x1 - 1e-2) and (poly[:, 0].max() <= x2 + 1e-2)
    assert inst['bbox_label'] in (0, 1, 2)


def test_ade_format_loads_with_reduce_zero_label(tiny_data):
    from mmseg.datasets import ADE20KDataset
    ds = ADE20KDataset(data_root=str(tiny_data / 'ade'),
                       data_prefix=dict(img_path='images/validation',
                                        seg_map_path='annotations/validation'), pipeline=[])
    assert len(ds) == 8 and ds.reduce_zero_label
    info = ds.get_data_info(0)
    mask = np.array(Image.open(info['seg_map_path']))
    img = Image.open(info['img_path'])
    assert mask.shape == (img.height, img.width) and mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 1, 2, 3} and 0 in mask and mask.max() > 0


def test_ap10k_format_loads(tiny_data):
    from mmpose.datasets import AP10KDataset
    ann = tiny_data / 'ap10k' / 'annotations' / 'ap10k-train-split1.json'
    ds = AP10KDataset(data_root=str(tiny_data / 'ap10k'), ann_file='annotations/ap10k-train-split1.json',
                      data_prefix=dict(img='data/'), data_mode='topdown', pipeline=[])
    assert len(ds) == 16
    item = ds[0]
    assert item['keypoints'].shape == (1, 17, 2)
    assert (item['keypoints_visible'] > 0).all()
    assert ds.metainfo['num_keypoints'] == 17
    raw = json.loads(ann.read_text())
    assert raw['categories'][0]['keypoints'] == list(AP10K_KEYPOINTS)
    x, y, w, h = raw['annotations'][0]['bbox']
    kps = np.array(raw['annotations'][0]['keypoints']).reshape(17, 3)
    assert (kps[:, 0] >= x).all() and (kps[:, 0] <= x + w).all()
