"""Shared fixtures: the tiny datasets are generated once per test session."""
import os.path as osp
import sys
from pathlib import Path

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'misc'))


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory) -> Path:
    """A folder with ``imagenet/``, ``coco/``, ``ade/`` and ``ap10k/`` in their real formats."""
    from make_tiny_datasets import make_all
    out = tmp_path_factory.mktemp('tiny_data')
    make_all(str(out), seed=0)
    return out


@pytest.fixture(autouse=True)
def _isolate_default_scope():
    """Tests that call ``init_default_scope`` (mmdet, mmseg, ...) must not leak it into the next."""
    from mmengine.registry import DefaultScope
    saved = DefaultScope._instance_dict.copy()
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)
