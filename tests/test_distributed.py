"""Multi-process training on the CPU: tools/dist_train.sh with 2 gloo processes.

2 processes x batch 2 must reach the same weights as 1 process x batch 4 (DDP averages the
gradients of the two halves of the same 4 samples). The model has no batch-statistics layers and
the pipeline no random transforms, so the two runs see identical arithmetic up to reduction order.
"""
import os
import subprocess
import sys

import torch

from hvt.engine import register_safe_globals
from toolkit import ROOT, cls_smoke_options, run_tool

TINY_HIVIT = """
_base_ = ['{base}']
model = dict(
    backbone=dict(_delete_=True, type='hvt.HiViT', img_size=32, patch_size=16,
                  arch=dict(embed_dims=64, depths=[1, 1, 1], num_heads=2), out_indices=(2, )),
    head=dict(in_channels=64))
_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=32), dict(type='PackInputs')]
train_dataloader = dict(dataset=dict(pipeline=_pipeline), sampler=dict(shuffle=True))
"""


def test_two_processes_match_one(tiny_data, tmp_path):
    cfg = tmp_path / 'tiny_hivit.py'
    cfg.write_text(TINY_HIVIT.format(base=os.path.join(ROOT, 'configs/demo/vitaev2-demo_shapes.py')))

    def opts(work, batch):
        return [o for o in cls_smoke_options(tiny_data, work, img_size=32, batch_size=batch,
                                             config=str(cfg))
                if 'pipeline' not in o] + ['train_cfg.val_interval=100']

    single = tmp_path / 'single'
    run_tool('train.py', cfg, '--cfg-options', *opts(single, 4))

    double = tmp_path / 'double'
    env = dict(os.environ, PYTHON=sys.executable, PORT='29517', OMP_NUM_THREADS='1',
               PYTHONPATH=ROOT)
    proc = subprocess.run(['bash', os.path.join(ROOT, 'tools', 'dist_train.sh'), str(cfg), '2',
                           '--cfg-options', *opts(double, 2)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert 'world_size: 2' in out or 'Distributed launcher: pytorch' in out or \
        'distributed: True' in out

    register_safe_globals()
    a = torch.load(single / 'epoch_1.pth', weights_only=True)
    b = torch.load(double / 'epoch_1.pth', weights_only=True)
    assert a['meta']['iter'] == b['meta']['iter'] > 1  # same number of optimizer steps
    # 24 AdamW steps in float32 with different reduction orders: equal to ~1e-6 relative. The
    # key bias gets the loosest bound: softmax ignores it, so its gradient is pure rounding noise
    # that Adam's normalisation magnifies (seen: 1.5e-5 absolute).
    for k, v in a['state_dict'].items():
        torch.testing.assert_close(b['state_dict'][k], v, rtol=1e-4, atol=5e-5,
                                   msg=lambda m, k=k: f'{k}: {m}')
    # the optimizer really stepped with non-zero gradients (not two untouched initialisations)
    moments = [s['exp_avg'] for s in a['optimizer']['state'].values()]
    assert moments and any(m.abs().sum() > 0 for m in moments)


def test_finish_distributed_tears_down_the_process_group(tmp_path):
    """train.py / test.py end by destroying the process group HVT started (left to interpreter
    exit, gloo can abort a finished run); a second call, or a run without one, is a no-op."""
    import torch.distributed as dist
    from hvt.engine.cli import finish_distributed
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/store', rank=0, world_size=1)
    assert dist.is_initialized()
    finish_distributed()
    assert not dist.is_initialized()
    finish_distributed()
    for tool in ('train.py', 'test.py'):
        with open(os.path.join(ROOT, 'tools', tool)) as f:
            assert 'finish_distributed()' in f.read().split('def main')[1]
