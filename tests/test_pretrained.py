"""Pre-trained weights of the wrong model fail loudly; a near-fit loads with a summary.

Every HVT backbone loads ``init_cfg=dict(type='Pretrained' | 'hvt.Pretrained', ...)`` through
``hvt.engine.pretrained`` (see docs/reliability.md).
"""
import logging
from contextlib import contextmanager

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.model import initialize
from torch import nn

import hvt.engine  # noqa: F401  (registers hvt.Pretrained)
import hvt.models  # noqa: F401
from hvt.registry import MODELS

V2 = dict(embed_dims=[8, 8, 16, 16], token_dims=[16, 32, 48, 64], depths=[1, 1, 2, 1],
          rc_heads=[1, 1, 2, 2], nc_heads=[1, 2, 2, 4], rc_groups=[1, 4, 8, 8],
          nc_groups=[1, 8, 8, 16])
V2_WIDER = dict(V2, token_dims=[16, 32, 64, 96])
DUAL = dict(stem_hidden_dim=8, embed_dims=[16, 16, 32, 32], depths=[1, 1, 1, 1],
            num_heads=[1, 1, 2, 2], mlp_ratios=[2, 2, 2, 2])


@contextmanager
def captured_log():
    """Records of MMLogger's current instance (it does not propagate to pytest's caplog)."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def vitaev2(arch=V2, **init):
    torch.manual_seed(0)
    return MODELS.build(dict(type='hvt.ViTAEv2', arch=arch,
                             init_cfg=dict(type='Pretrained', **init) if init else None))


def save(tmp_path, state, name='ckpt.pth'):
    path = tmp_path / name
    torch.save({'state_dict': state, 'meta': {}}, path)
    return str(path)


def test_checkpoint_of_another_architecture_fails_naming_path(tmp_path):
    path = save(tmp_path, vitaev2().state_dict(), 'vitaev2_tiny.pth')
    model = MODELS.build(dict(type='hvt.DualViT', arch=DUAL, mode='cls',
                              init_cfg=dict(type='Pretrained', checkpoint=path)))
    with pytest.raises(ValueError) as err:
        model.init_weights()
    msg = str(err.value)
    assert path in msg and 'does not fit DualViT' in msg and 'max_missing_ratio=0.5' in msg
    assert '100.0% of its parameters' in msg
    assert 'unexpected ' in msg and 'layers.0.RC.' in msg  # ViTAEv2 names listed
    assert 'missing ' in msg


def test_other_width_lists_shape_mismatches_and_skips_them(tmp_path):
    src = vitaev2()
    path = save(tmp_path, src.state_dict(), 'narrow.pth')
    with pytest.raises(ValueError) as err:
        vitaev2(V2_WIDER, checkpoint=path).init_weights()
    msg = str(err.value)
    assert 'narrow.pth' in msg and 'does not fit ViTAEv2' in msg
    # both shapes of the first mismatched tensors are named
    assert 'shape mismatch' in msg and 'checkpoint (' in msg and 'vs model (' in msg
    # an explicit higher limit accepts the partial load: mismatches skipped, the rest loaded
    wide = vitaev2(V2_WIDER, checkpoint=path, max_missing_ratio=1.0)
    with captured_log() as records:
        wide.init_weights()
    warning = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert len(warning) == 1 and 'shape mismatch' in warning[0]
    same = [k for k, v in src.state_dict().items() if wide.state_dict()[k].shape == v.shape]
    assert same  # the first stages keep their width
    for k in same:
        torch.testing.assert_close(wide.state_dict()[k], src.state_dict()[k])


def test_fine_tune_checkpoint_loads_with_warning_summary(tmp_path):
    """A classifier checkpoint (backbone + old head) into a new classifier: the backbone loads
    via prefix; one tensor the backbone lacks in the file is listed, nothing fails."""
    src = vitaev2()
    state = {f'backbone.{k}': v for k, v in src.state_dict().items()}
    dropped = 'backbone.layers.3.NC.0.mlp.fc2.bias'
    del state[dropped]
    state['head.fc.weight'] = torch.randn(1000, 64)
    path = save(tmp_path, state, 'in1k_cls.pth')
    model = MODELS.build(dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='hvt.ViTAEv2', arch=V2, init_cfg=dict(
            type='Pretrained', checkpoint=path, prefix='backbone.')),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=7, in_channels=64)))
    with captured_log() as records:
        model.init_weights()
    warning = [r.getMessage() for r in records if r.levelno == logging.WARNING
               and 'in1k_cls.pth' in r.getMessage()]
    assert len(warning) == 1, [r.getMessage() for r in records]
    assert 'missing 1: layers.3.NC.0.mlp.fc2.bias' in warning[0]
    sd = model.backbone.state_dict()
    for k, v in src.state_dict().items():
        if f'backbone.{k}' != dropped:
            torch.testing.assert_close(sd[k], v)
    assert model.head.fc.weight.shape == (7, 64)


def test_wrong_prefix_and_hvt_pretrained_initializer(tmp_path):
    src = vitaev2()
    path = save(tmp_path, {f'backbone.{k}': v for k, v in src.state_dict().items()})
    with pytest.raises(ValueError, match=r"no key starts with prefix 'encoder\.'.*'backbone\.'"):
        vitaev2(checkpoint=path, prefix='encoder.').init_weights()
    # no prefix: every key is unexpected -> the fit check fails (type 'hvt.Pretrained' too)
    m = MODELS.build(dict(type='hvt.ViTAEv2', arch=V2,
                          init_cfg=dict(type='hvt.Pretrained', checkpoint=path)))
    with pytest.raises(ValueError, match='100.0% of its parameters would stay unloaded'):
        m.init_weights()
    # the registered initializer on a plain (non-HVT) module
    lin = nn.Linear(4, 3)
    lin_path = save(tmp_path, {'weight': torch.ones(3, 4), 'bias': torch.ones(5)}, 'lin.pth')
    initialize(lin, dict(type='hvt.Pretrained', checkpoint=lin_path, max_missing_ratio=0.3))
    assert torch.equal(lin.weight, torch.ones(3, 4))  # the bias (wrong shape) was skipped
    with pytest.raises(ValueError, match=r'lin\.pth.*bias \(checkpoint \(5,\) vs model \(3,\)\)'):
        initialize(nn.Linear(4, 3), dict(type='hvt.Pretrained', checkpoint=lin_path,
                                         max_missing_ratio=0.1))
