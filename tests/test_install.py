"""The environment tools/install.sh creates: every library imports and mmcv's compiled ops run."""
import importlib

import torch


def test_stack_imports():
    for name in ('hvt', 'hvt.models', 'mmcv.ops', 'mmdet', 'mmseg', 'mmpose', 'mmpretrain',
                 'xtcocotools.coco'):
        importlib.import_module(name)


def test_mmcv_compiled_ops_run_on_cpu():
    from mmcv.ops import nms, roi_align
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    feat = torch.arange(16.).view(1, 1, 4, 4)
    rois = torch.tensor([[0., 0., 0., 4., 4.]])
    out = roi_align(feat, rois, (2, 2), 1.0, 2, 'avg', True)
    assert out.shape == (1, 1, 2, 2) and torch.isfinite(out).all()
    assert out[0, 0, 0, 0] < out[0, 0, 1, 1]  # increasing ramp survives pooling


def test_versions_match_the_verified_stack():
    import mmcv
    import mmdet
    import mmengine
    import mmpose
    import mmpretrain
    import mmseg
    assert mmengine.__version__.startswith('0.10.')
    assert mmcv.__version__.startswith('2.1.')
    assert mmdet.__version__.startswith('3.3.')
    assert mmseg.__version__.startswith('1.2.')
    assert mmpretrain.__version__.startswith('1.2.')
    assert mmpose.__version__.startswith('1.3.')
