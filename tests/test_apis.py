"""hvt.apis and demo/image_demo.py on checkpoints trained by the real tools/train.py.

For every task one narrowed ViTAEv2 (the demo's cells and widths, ``configs/demo``) inside the
task's real ViTAEv2 config (or the ResNet reference config with the backbone swapped, for Mask
R-CNN, whose ViTAEv2 config trains with DETR-style crops) is trained for a few iterations on the
tiny data; the checkpoint is shared by the tests of the task. The demo then runs in a subprocess
and must write a PNG of the image's size that differs from the image; the API is called in-process
and must return the library's data sample with the right fields and shapes.
"""
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from toolkit import (ROOT, cls_smoke_options, config_path, det_smoke_options,
                     pose_smoke_options, run_tool, seg_smoke_options)

DEMO_CONFIG = 'configs/demo/vitaev2-demo_shapes.py'
# the demo's narrowed ViTAEv2: stage widths 32 / 64 / 128 / 256
ARCH = Config.fromfile(config_path(DEMO_CONFIG), import_custom_modules=False).model.backbone.arch
ARCH = ARCH.to_dict()
BACKBONE = dict(type='hvt.ViTAEv2', drop_path_rate=0.0, init_cfg=None)
# replaces the string arch ('s') of an inherited ViTAEv2 backbone
NARROW = dict(BACKBONE, arch=dict(_delete_=True, **ARCH))

TASKS = {
    # task: (base config, model overrides, smoke options, sample image under the tiny data)
    'classification': (DEMO_CONFIG, None, cls_smoke_options,
                       'imagenet/val/triangle/triangle_val_0000.JPEG'),
    'detection': ('configs/resnet/mask-rcnn_r18_fpn_1x_coco.py',
                  dict(backbone=dict(_delete_=True, arch=ARCH, out_indices=(0, 1, 2, 3),
                                     **BACKBONE),
                       neck=dict(in_channels=[32, 64, 128, 256])),
                  det_smoke_options, 'coco/val2017/000000000001.jpg'),
    'segmentation': ('configs/vitaev2/upernet_vitaev2-s_8xb2-160k_ade20k-512x512.py',
                     dict(backbone=NARROW,
                          decode_head=dict(in_channels=[32, 64, 128, 256], channels=32),
                          auxiliary_head=dict(in_channels=128, channels=16)),
                     seg_smoke_options, 'ade/images/validation/ADE_valid_00000001.jpg'),
    'pose': ('configs/vitaev2/td-hm_vitaev2-s_8xb64-210e_ap10k-256x256.py',
             dict(backbone=NARROW, head=dict(in_channels=256, deconv_out_channels=(32, 32, 32))),
             pose_smoke_options, 'ap10k/data/000000000017.jpg'),
}
LIMIT = ['train_dataloader.dataset.indices=8', 'val_dataloader.dataset.indices=2',
         'test_dataloader.dataset.indices=2', 'train_cfg.val_begin=1000']


def _write_config(task, folder):
    """The task's config with the narrowed backbone, as a file inheriting from the real one."""
    base, model, _, _ = TASKS[task]
    if model is None:
        return config_path(base)
    path = folder / f'{task}_tiny_vitaev2.py'
    path.write_text(f'_base_ = [{config_path(base)!r}]\nmodel = {model!r}\n')
    return str(path)


@pytest.fixture(scope='module')
def trained(tiny_data, tmp_path_factory):
    """``trained(task)`` -> (config dumped by the run, checkpoint, sample image); trained once."""
    cache = {}

    def get(task):
        if task not in cache:
            folder = tmp_path_factory.mktemp(task)
            config, work = _write_config(task, folder), folder / 'work'
            smoke = TASKS[task][2]
            if smoke is cls_smoke_options:
                opts = smoke(tiny_data, work, img_size=64, epochs=1, config=config)
            elif smoke is seg_smoke_options:
                opts = smoke(tiny_data, work, config, iters=2, crop=64)
            else:
                opts = smoke(tiny_data, work, config)
            run_tool('train.py', config, '--cfg-options', *opts, *LIMIT)
            ckpt = open(work / 'last_checkpoint').read().strip()
            dumped = work / osp.basename(config)  # the resolved config the runner saved
            cache[task] = (str(dumped), ckpt, str(tiny_data / TASKS[task][3]))
        return cache[task]

    return get


def _assert_drawn(png, image):
    src = np.asarray(Image.open(image).convert('RGB'), dtype=np.int16)
    out = np.asarray(Image.open(png).convert('RGB'), dtype=np.int16)
    assert out.shape == src.shape, f'{png}: drawn {out.shape}, image {src.shape}'
    changed = (np.abs(out - src).max(axis=2) > 40).mean()
    assert changed > 0.005, f'{png}: only {changed:.2%} of the pixels differ from the image'


DEMO_ARGS = {
    'classification': ['--topk', '3'],
    'detection': ['--score-thr', '0', '--cfg-options', 'model.test_cfg.rcnn.score_thr=0.0'],
    'segmentation': [],
    'pose': ['--bboxes', '10,10,120,120', '--kpt-thr', '0'],  # draw every keypoint
}


@pytest.mark.parametrize('task', sorted(TASKS))
def test_image_demo_draws(task, trained, tmp_path):
    config, ckpt, image = trained(task)
    png = tmp_path / 'out.png'
    out = run_tool('../demo/image_demo.py', image, config, ckpt, '--out', png, '--device', 'cpu',
                   *DEMO_ARGS[task])
    assert f'{task} result drawn to {png}' in out, out[-2000:]
    _assert_drawn(png, image)
    if task == 'classification':  # the top 3 of the 4 shape classes, with scores
        lines = re.findall(r'\[image_demo\] (circle|square|triangle|star): [01]\.\d{3}\n', out)
        assert len(lines) == 3, out[-2000:]


def test_classification_api(trained, tmp_path):
    from mmpretrain.structures import DataSample

    from hvt.apis import inference, init_model, show_result
    config, ckpt, image = trained('classification')
    model = init_model(config, ckpt, device='cpu')
    assert model.task == 'classification'
    assert model.dataset_meta['classes'] == ('circle', 'square', 'triangle', 'star')
    result = inference(model, image)
    assert isinstance(result, DataSample)
    assert result.pred_score.shape == (4, )
    assert torch.allclose(result.pred_score.sum(), torch.tensor(1.0), atol=1e-5)
    assert result.pred_label.tolist() == [int(result.pred_score.argmax())]
    # a BGR array gives the same prediction as the file
    bgr = np.asarray(Image.open(image).convert('RGB'))[..., ::-1].copy()
    assert torch.allclose(inference(model, bgr).pred_score, result.pred_score, atol=1e-5)
    drawn = show_result(model, image, result, str(tmp_path / 'cls.png'), topk=2)
    assert drawn.shape == (64, 64, 3)
    _assert_drawn(tmp_path / 'cls.png', image)


def test_detection_api(trained):
    from mmdet.structures import DetDataSample

    from hvt.apis import inference, init_model
    config, ckpt, image = trained('detection')
    model = init_model(config, ckpt, cfg_options={'model.test_cfg.rcnn.score_thr': 0.0})
    assert model.backbone.__class__.__name__ == 'ViTAEv2'
    assert model.dataset_meta['classes'] == ('circle', 'square', 'triangle')
    result = inference(model, image)
    assert isinstance(result, DetDataSample)
    inst = result.pred_instances
    n = len(inst)
    assert n > 0
    assert inst.bboxes.shape == (n, 4) and inst.scores.shape == (n, )
    assert int(inst.labels.max()) < 3
    assert tuple(inst.masks.shape) == (n, 96, 128)  # instance masks at the image's size


def test_segmentation_api(trained):
    from mmseg.structures import SegDataSample

    from hvt.apis import inference, init_model
    config, ckpt, image = trained('segmentation')
    model = init_model(config, ckpt)
    result = inference(model, image)
    assert isinstance(result, SegDataSample)
    assert tuple(result.pred_sem_seg.data.shape) == (1, 96, 128)
    assert int(result.pred_sem_seg.data.max()) < len(model.dataset_meta['classes']) == 150


def test_pose_api(trained):
    from mmpose.structures import PoseDataSample

    from hvt.apis import inference, init_model
    config, ckpt, image = trained('pose')
    model = init_model(config, ckpt)
    result = inference(model, image)  # no boxes: the whole image is one instance
    assert isinstance(result, PoseDataSample)
    assert tuple(result.pred_instances.keypoints.shape) == (1, 17, 2)
    assert result.pred_instances.bboxes.tolist() == [[0, 0, 128, 128]]
    two = inference(model, image, bboxes=[[0, 0, 64, 64], [40, 30, 120, 110]])
    kpts = two.pred_instances.keypoints
    assert kpts.shape == (2, 17, 2) and two.pred_instances.keypoint_scores.shape == (2, 17)
    # each instance's keypoints are decoded inside (or at the edge of) its own box, padded 25%
    for (x0, y0, x1, y1), pts in zip([[0, 0, 64, 64], [40, 30, 120, 110]], kpts):
        pad = 0.25 * max(x1 - x0, y1 - y0)
        assert (pts[:, 0] >= x0 - pad).all() and (pts[:, 0] <= x1 + pad).all()
        assert (pts[:, 1] >= y0 - pad).all() and (pts[:, 1] <= y1 + pad).all()


def test_clear_errors(trained, tmp_path):
    from hvt.apis import inference, init_model
    with pytest.raises(FileNotFoundError, match='config file not found.*nope.py'):
        init_model(str(tmp_path / 'nope.py'))
    with pytest.raises(FileNotFoundError, match='checkpoint not found.*gone.pth'):
        init_model(config_path(DEMO_CONFIG), str(tmp_path / 'gone.pth'))
    other = tmp_path / 'ocr.py'
    other.write_text("default_scope = 'mmocr'\nmodel = dict(type='DBNet')\n")
    with pytest.raises(ValueError, match=r"unknown task: default_scope='mmocr'.*mmdet"):
        init_model(str(other))
    config, ckpt, _ = trained('classification')
    model = init_model(config, ckpt)
    with pytest.raises(FileNotFoundError, match='image not found.*missing.jpg'):
        inference(model, str(tmp_path / 'missing.jpg'))
    with pytest.raises(ValueError, match='bboxes are only used by top-down pose'):
        inference(model, str(tmp_path), bboxes=[[0, 0, 1, 1]])
    out = run_tool('../demo/image_demo.py', 'x.jpg', config, ckpt, '--bboxes', '5,5,1,1',
                   check=False)
    assert "bad box '5,5,1,1'" in out and 'x1,y1,x2,y2' in out


def test_selfsup_config_has_no_inference():
    from hvt.apis import init_model
    path = osp.join(ROOT, 'configs', 'itpn', 'itpn-pixel_hivit-b-p16_64xb64-amp-coslr-400e_in1k.py')
    with pytest.raises(ValueError, match='classification inference needs model.type'):
        init_model(path)


def test_pose_show_dir_draws_keypoints(trained, tmp_path):
    """tools/test.py --show-dir with every keypoint drawn (mmpose's OpenCV backend fails on them
    under numpy 2; the pose runtime uses the matplotlib backend)."""
    config, ckpt, _ = trained('pose')
    show = tmp_path / 'show'
    run_tool('test.py', config, ckpt, '--show-dir', show, '--cfg-options',
             'default_hooks.visualization.kpt_thr=0.0', f'work_dir={tmp_path / "test"}')
    drawn = [p for p in show.rglob('*') if p.suffix in ('.png', '.jpg')]
    assert drawn, f'--show-dir drew nothing into {show}'
