"""Generate tiny, learnable synthetic datasets in the four real formats HVT's tasks read.

Every scene is coloured geometric shapes on a noisy background, so a small model learns them in a
few hundred iterations. The files are exactly what the OpenMMLab dataset classes read unchanged:

    <out>/imagenet/  train/<class>/*.JPEG, val/<class>/*.JPEG, meta/{train,val}.txt
                     (mmpretrain ``ImageNet`` / ``CustomDataset``)
    <out>/coco/      train2017/*.jpg, val2017/*.jpg,
                     annotations/instances_{train,val}2017.json (boxes + polygon masks)
                     (mmdet ``CocoDataset``)
    <out>/ade/       images/{training,validation}/*.jpg, annotations/{training,validation}/*.png
                     label 0 = background, 1..K = shapes; use ``reduce_zero_label=True``
                     (mmseg ``ADE20KDataset``)
    <out>/ap10k/     data/*.jpg, annotations/ap10k-{train,val,test}-split1.json
                     (COCO keypoints, 17 AP-10K keypoints + bbox; mmpose ``AP10KDataset``)

On request (``--tasks custom_cls custom_det custom_seg``), "your own data" in the formats of
configs/custom/ and docs/custom_data.md, with class counts that differ from the benchmarks:

    <out>/custom_cls/  {train,val}/<class>/*.jpg, 5 classes, no annotation file
                       (mmpretrain ``CustomDataset``: one sub-folder per class)
    <out>/custom_det/  images/{train,val}/*.jpg, annotations/{train,val}.json (COCO format,
                       2 classes: ``box``, ``star``; mmdet ``CocoDataset`` + ``metainfo``)
    <out>/custom_seg/  img_dir/{train,val}/*.jpg, ann_dir/{train,val}/*.png, 4 classes
                       (0 background, 1 circle, 2 triangle, 3 hexagon; mmseg ``BaseSegDataset``)

Deterministic under ``--seed``; all four take a few seconds.

    python tools/misc/make_tiny_datasets.py --out data/tiny
    python tools/misc/make_tiny_datasets.py --out data/demo --tasks imagenet --train-per-class 150
"""
import argparse
import json
import math
import os
import os.path as osp
import time

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ('circle', 'square', 'triangle', 'star')
CUSTOM_CLS_CLASSES = SHAPES + ('pentagon', )
CUSTOM_DET_CLASSES = {'box': 'square', 'star': 'star'}  # class name: shape drawn
CUSTOM_SEG_CLASSES = ('background', 'circle', 'triangle', 'hexagon')
# Class colours are random per instance: the shape, not the colour, carries the label.
AP10K_KEYPOINTS = ('left_eye', 'right_eye', 'nose', 'neck', 'root_of_tail', 'left_shoulder',
                   'left_elbow', 'left_front_paw', 'right_shoulder', 'right_elbow',
                   'right_front_paw', 'left_hip', 'left_knee', 'left_back_paw', 'right_hip',
                   'right_knee', 'right_back_paw')
AP10K_SKELETON = [[1, 2], [1, 3], [2, 3], [3, 4], [4, 5], [4, 6], [6, 7], [7, 8], [4, 9], [9, 10],
                  [10, 11], [5, 12], [12, 13], [13, 14], [5, 15], [15, 16], [16, 17]]
TASKS = ('imagenet', 'coco', 'ade', 'ap10k')
CUSTOM_TASKS = ('custom_cls', 'custom_det', 'custom_seg')


def shape_polygon(kind, cx, cy, r, angle):
    """Vertices (list of (x, y)) of a shape of radius ``r`` centred at (cx, cy)."""
    if kind == 'circle':
        n, radii = 24, [r] * 24
    elif kind == 'square':
        n, radii = 4, [r] * 4
    elif kind == 'triangle':
        n, radii = 3, [r] * 3
    elif kind in ('pentagon', 'hexagon'):
        n = 5 if kind == 'pentagon' else 6
        radii = [r] * n
    elif kind == 'star':
        n, radii = 10, [r if i % 2 == 0 else r * 0.45 for i in range(10)]
    else:
        raise ValueError(f'unknown shape {kind!r}; expected one of '
                         f'{SHAPES + ("pentagon", "hexagon")}')
    return [(cx + radii[i] * math.cos(angle + 2 * math.pi * i / n),
             cy + radii[i] * math.sin(angle + 2 * math.pi * i / n)) for i in range(n)]


def background(rng, size):
    base = rng.integers(0, 90, size=3)
    noise = rng.integers(0, 40, size=(size[1], size[0], 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def bright_colour(rng):
    return tuple(int(c) for c in rng.integers(140, 256, size=3))


def polygon_area(poly):
    xs, ys = np.array(poly).T
    return float(0.5 * abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))))


def save_json(obj, path):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f)


def make_imagenet(out, rng, train_per_class, val_per_class, size=64, kinds=SHAPES, meta=True,
                  ext='.JPEG'):
    """ImageNet layout: one folder per class plus (``meta``) ``meta/{split}.txt``
    (``<rel path> <label>``)."""
    for split, per_class in (('train', train_per_class), ('val', val_per_class)):
        lines = []
        for label, kind in enumerate(kinds):
            folder = osp.join(out, split, kind)
            os.makedirs(folder, exist_ok=True)
            for i in range(per_class):
                img = background(rng, (size, size))
                r = rng.uniform(0.22, 0.4) * size
                cx, cy = rng.uniform(r, size - r, size=2)
                ImageDraw.Draw(img).polygon(
                    shape_polygon(kind, cx, cy, r, rng.uniform(0, 2 * math.pi)), fill=bright_colour(rng))
                name = f'{kind}_{split}_{i:04d}{ext}'
                img.save(osp.join(folder, name), quality=95)
                lines.append(f'{kind}/{name} {label}')
        if not meta:
            continue
        os.makedirs(osp.join(out, 'meta'), exist_ok=True)
        with open(osp.join(out, 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')


def random_instances(rng, size, max_instances, kinds):
    """Non-overlapping shapes: list of (kind_index, polygon)."""
    instances, placed = [], []
    for _ in range(int(rng.integers(1, max_instances + 1))):
        for _attempt in range(20):
            r = rng.uniform(0.1, 0.22) * min(size)
            cx, cy = rng.uniform(r + 1, size[0] - r - 1), rng.uniform(r + 1, size[1] - r - 1)
            if all(math.hypot(cx - px, cy - py) > r + pr + 2 for px, py, pr in placed):
                placed.append((cx, cy, r))
                k = int(rng.integers(len(kinds)))
                instances.append((k, shape_polygon(kinds[k], cx, cy, r, rng.uniform(0, 2 * math.pi))))
                break
    return instances


def make_coco(out, rng, num_train, num_val, size=(128, 96), kinds=SHAPES[:3], names=None,
              splits=('train2017', 'val2017'),
              layout=('{split}', 'annotations/instances_{split}.json')):
    """COCO instances: boxes ``[x, y, w, h]`` and polygon ``segmentation`` per object.

    ``names``: category names (default: the shape names); ``layout``: (image folder, annotation
    file) relative to ``out``, formatted with the split name.
    """
    categories = [dict(id=i + 1, name=k, supercategory='shape')
                  for i, k in enumerate(names or kinds)]
    ann_id = 1
    for split, num in zip(splits, (num_train, num_val)):
        img_dir = osp.join(out, layout[0].format(split=split))
        os.makedirs(img_dir, exist_ok=True)
        images, annotations = [], []
        for i in range(num):
            img = background(rng, size)
            draw = ImageDraw.Draw(img)
            image_id = len(images) + 1
            for k, poly in random_instances(rng, size, 3, kinds):
                draw.polygon(poly, fill=bright_colour(rng))
                xs, ys = np.array(poly).T
                x0, y0 = max(float(xs.min()), 0.), max(float(ys.min()), 0.)
                x1, y1 = min(float(xs.max()), size[0]), min(float(ys.max()), size[1])
                annotations.append(dict(
                    id=ann_id, image_id=image_id, category_id=k + 1, iscrowd=0,
                    bbox=[round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
                    area=round(polygon_area(poly), 2),
                    segmentation=[[round(float(v), 2) for p in poly for v in p]]))
                ann_id += 1
            name = f'{i:012d}.jpg'
            img.save(osp.join(img_dir, name), quality=95)
            images.append(dict(id=image_id, file_name=name, width=size[0], height=size[1]))
        save_json(dict(info=dict(description='HVT tiny COCO'), licenses=[], images=images,
                       annotations=annotations, categories=categories),
                  osp.join(out, layout[1].format(split=split)))


def make_ade(out, rng, num_train, num_val, size=(128, 96), kinds=SHAPES[:3],
             splits=('training', 'validation'), layout=('images/{split}', 'annotations/{split}')):
    """ADE20K layout: JPEG images and single-channel PNG masks, 0 = background, k + 1 = shape k.

    ``layout``: (image folder, mask folder) relative to ``out``, formatted with the split name.
    """
    for split, num in zip(splits, (num_train, num_val)):
        img_dir, ann_dir = (osp.join(out, p.format(split=split)) for p in layout)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for i in range(num):
            img = background(rng, size)
            mask = Image.new('L', size, 0)
            draw, mdraw = ImageDraw.Draw(img), ImageDraw.Draw(mask)
            for k, poly in random_instances(rng, size, 4, kinds):
                draw.polygon(poly, fill=bright_colour(rng))
                mdraw.polygon(poly, fill=k + 1)
            name = f'ADE_{split[:5]}_{i:08d}'
            img.save(osp.join(img_dir, name + '.jpg'), quality=95)
            mask.save(osp.join(ann_dir, name + '.png'))


def animal_keypoints(rng, size):
    """A stick quadruped: 17 AP-10K keypoints (x, y) facing left or right."""
    w, h = size
    body = rng.uniform(0.3, 0.45) * w
    cx, cy = rng.uniform(0.35 * w, 0.65 * w), rng.uniform(0.35 * h, 0.5 * h)
    d = 1 if rng.random() < 0.5 else -1  # head direction
    leg = rng.uniform(0.25, 0.35) * h
    neck = (cx + d * body / 2, cy)
    tail = (cx - d * body / 2, cy)
    nose = (neck[0] + d * 0.25 * body, neck[1] - 0.3 * leg)
    eye_l = (nose[0] - d * 0.08 * body, nose[1] - 0.12 * leg)
    eye_r = (nose[0] - d * 0.14 * body, nose[1] - 0.08 * leg)

    def leg_points(x0, y0, dx):
        return [(x0 + dx, y0 + 0.1 * leg), (x0 + dx, y0 + 0.55 * leg), (x0 + dx, y0 + leg)]

    sl, sr = leg_points(*neck, 0.04 * body), leg_points(*neck, -0.06 * body)
    hl, hr = leg_points(*tail, 0.04 * body), leg_points(*tail, -0.06 * body)
    return [eye_l, eye_r, nose, neck, tail, *sl, *sr, *hl, *hr]


def make_ap10k(out, rng, num_train, num_val, size=(128, 128)):
    """AP-10K COCO-keypoint JSON: one animal per image, 17 keypoints ``[x, y, v]`` and a bbox."""
    os.makedirs(osp.join(out, 'data'), exist_ok=True)
    categories = [dict(id=1, name='shape-dog', supercategory='Canidae',
                       keypoints=list(AP10K_KEYPOINTS), skeleton=AP10K_SKELETON)]
    image_id, ann_id = 1, 1
    splits = {}
    for split, num in (('train', num_train), ('val', num_val)):
        images, annotations = [], []
        for _ in range(num):
            img = background(rng, size)
            draw = ImageDraw.Draw(img)
            pts = animal_keypoints(rng, size)
            colour = bright_colour(rng)
            for a, b in AP10K_SKELETON:
                draw.line([pts[a - 1], pts[b - 1]], fill=colour, width=3)
            # keypoints get fixed, distinct colours so a heatmap head can find each of them
            for j, (x, y) in enumerate(pts):
                c = tuple(int(v) for v in np.array([255, 255, 255]) * ((j % 4) + 1) / 4)
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=c)
            xs, ys = np.array(pts).T
            x0, y0 = max(xs.min() - 4, 0), max(ys.min() - 4, 0)
            x1, y1 = min(xs.max() + 4, size[0]), min(ys.max() + 4, size[1])
            name = f'{image_id:012d}.jpg'
            img.save(osp.join(out, 'data', name), quality=95)
            images.append(dict(id=image_id, file_name=name, width=size[0], height=size[1]))
            kps = [round(float(v), 2) if k < 2 else 2 for x, y in pts for k, v in enumerate((x, y, 2))]
            annotations.append(dict(
                id=ann_id, image_id=image_id, category_id=1, iscrowd=0, num_keypoints=17,
                keypoints=kps, bbox=[round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)],
                area=round(float((x1 - x0) * (y1 - y0)), 2)))
            image_id += 1
            ann_id += 1
        splits[split] = dict(info=dict(description='HVT tiny AP-10K'), licenses=[], images=images,
                             annotations=annotations, categories=categories)
    splits['test'] = splits['val']
    for split, content in splits.items():
        save_json(content, osp.join(out, 'annotations', f'ap10k-{split}-split1.json'))


def make_all(out, tasks=TASKS, seed=0, train_per_class=24, val_per_class=8, num_train=16, num_val=8):
    """Generate ``tasks`` under ``out``; returns ``{task: folder}``. Each task gets its own RNG."""
    unknown = set(tasks) - set(TASKS + CUSTOM_TASKS)
    if unknown:
        raise ValueError(f'unknown task(s) {sorted(unknown)}; choose from {TASKS + CUSTOM_TASKS}')
    folders = {}
    for offset, task in enumerate(TASKS + CUSTOM_TASKS):
        if task not in tasks:
            continue
        rng = np.random.default_rng(seed + 1000 * offset)
        folder = osp.join(out, task)
        t0 = time.time()
        if task == 'imagenet':
            make_imagenet(folder, rng, train_per_class, val_per_class)
        elif task == 'coco':
            make_coco(folder, rng, num_train, num_val)
        elif task == 'ade':
            make_ade(folder, rng, num_train, num_val)
        elif task == 'ap10k':
            make_ap10k(folder, rng, num_train, num_val)
        elif task == 'custom_cls':
            make_imagenet(folder, rng, train_per_class, val_per_class, kinds=CUSTOM_CLS_CLASSES,
                          meta=False, ext='.jpg')
        elif task == 'custom_det':
            make_coco(folder, rng, num_train, num_val, kinds=tuple(CUSTOM_DET_CLASSES.values()),
                      names=tuple(CUSTOM_DET_CLASSES), splits=('train', 'val'),
                      layout=('images/{split}', 'annotations/{split}.json'))
        else:
            make_ade(folder, rng, num_train, num_val, kinds=CUSTOM_SEG_CLASSES[1:],
                     splits=('train', 'val'), layout=('img_dir/{split}', 'ann_dir/{split}'))
        print(f'[make_tiny_datasets] {task:9s} -> {folder} ({time.time() - t0:.1f}s)', flush=True)
        folders[task] = folder
    return folders


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', default='data/tiny', help='output root (default: data/tiny)')
    p.add_argument('--tasks', nargs='+', default=list(TASKS), choices=TASKS + CUSTOM_TASKS,
                   help=f'default: {" ".join(TASKS)}')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--train-per-class', type=int, default=24, help='classification train images per class')
    p.add_argument('--val-per-class', type=int, default=8, help='classification val images per class')
    p.add_argument('--num-train', type=int, default=16, help='train images for coco / ade / ap10k')
    p.add_argument('--num-val', type=int, default=8, help='val images for coco / ade / ap10k')
    return p.parse_args()


if __name__ == '__main__':
    a = parse_args()
    make_all(a.out, a.tasks, a.seed, a.train_per_class, a.val_per_class, a.num_train, a.num_val)
