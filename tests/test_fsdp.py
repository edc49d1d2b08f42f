"""FSDP (mmengine FlexibleRunner + FSDPStrategy) for the largest variants, on the CPU over gloo.

* the three FSDP configs select FlexibleRunner and name block classes that exist in the model;
* ``hvt.layer_auto_wrap_policy`` makes one FSDP unit per block, and layer decay sees the model's
  own parameter names through the wrappers;
* ``with_cp`` (the activation checkpointing the FSDP configs turn on) changes no output or grad;
* tools/dist_train.sh with 2 processes x batch 2 under FSDP ends with the same (full) checkpoint
  as 1 process x batch 4 under the plain Runner.
"""
import os
import re
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.registry import init_default_scope

from hvt.engine import register_safe_globals
from hvt.engine.fsdp import runner_class
from hvt.registry import MODELS
from toolkit import ROOT, cls_smoke_options, run_tool

FSDP_CONFIGS = {  # config: (block class, expected blocks in the full-size model)
    'configs/vitae/vitae-h-p16_8xb128-fsdp_in1k.py': ('NormalCell', 32),
    'configs/itpn/itpn-hivit-l-p16_clip-pre_8xb128-fsdp-coslr-50e_in1k.py': ('HiViTBlock', 40),
    'configs/fast_itpn/fast-itpn-l_8xb128-fsdp_in1k.py': ('FastiTPNBlock', 40),
}
VITAE_TINY = dict(patch_size=16, embed_dims=32, depth=2, num_heads=2, nc_groups=8, mlp_ratio=2.)


@pytest.mark.parametrize('config', sorted(FSDP_CONFIGS))
def test_fsdp_config_selects_flexible_runner_and_real_blocks(config):
    from mmengine.runner import FlexibleRunner, Runner
    cfg = Config.fromfile(os.path.join(ROOT, config))
    with pytest.raises(ValueError, match='needs a distributed launch: bash tools/dist_train.sh'):
        runner_class(cfg)  # launcher 'none'
    cfg.launcher = 'pytorch'
    assert runner_class(cfg) is FlexibleRunner
    assert cfg.strategy.type == 'hvt.FSDPStrategy' and cfg.strategy.state_dict_cfg == 'full'
    assert cfg.model.backbone.with_cp is True
    layer_cls = cfg.strategy.model_wrapper.auto_wrap_policy.layer_cls
    init_default_scope(cfg.default_scope)
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    block, count = FSDP_CONFIGS[config]
    assert layer_cls == [block]
    assert sum(type(m).__name__ == block for m in model.modules()) == count
    base = Config.fromfile(os.path.join(ROOT, config.replace('-fsdp', '').replace('fsdp-', '')))
    assert runner_class(base) is Runner


def _tiny_vitae_classifier(with_cp=False):
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='hvt.ViTAE', arch=VITAE_TINY, img_size=32, out_type='avg_featmap',
                      with_cp=with_cp),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=5, in_channels=32)))


def test_layer_policy_wraps_each_block_and_layer_decay_sees_clean_names(tmp_path):
    from mmengine.model.wrappers import MMFullyShardedDataParallel
    from mmengine.optim import build_optim_wrapper
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    optim_cfg = dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                     constructor='hvt.LayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(layer_decay_rate=0.75))
    init_default_scope('mmpretrain')
    plain = build_optim_wrapper(_tiny_vitae_classifier(), optim_cfg)
    expected = sorted((n, g['lr']) for g in plain.optimizer.param_groups
                      for n in g['param_names'])
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/store', rank=0, world_size=1)
    try:
        model = MMFullyShardedDataParallel(
            _tiny_vitae_classifier(), device_id='cpu',
            auto_wrap_policy=dict(type='hvt.layer_auto_wrap_policy', layer_cls=['NormalCell']))
        units = [m for m in model.modules() if isinstance(m, FSDP)]
        assert len(units) == 1 + VITAE_TINY['depth']  # the root + one per NormalCell
        wrapped = build_optim_wrapper(model, optim_cfg)
        got = sorted((n, g['lr']) for g in wrapped.optimizer.param_groups
                     for n in g['param_names'])
        assert got == expected and len({lr for _, lr in got}) > 2
        loss = model(torch.randn(2, 3, 32, 32)).logsumexp(-1).sum()
        loss.backward()
        assert all(p.grad is not None for p in model.parameters() if p.numel())
    finally:
        dist.destroy_process_group()


def _hivit(with_cp):
    return dict(type='hvt.HiViT', arch=dict(embed_dims=64, depths=[1, 1, 2], num_heads=2),
                img_size=32, out_type='avg_featmap', drop_path_rate=0.1, with_cp=with_cp)


def _fast_itpn(with_cp):
    return dict(type='hvt.FastiTPN', arch=dict(embed_dims=64, depths=(1, 1, 2), num_heads=2),
                img_size=32, out_type='avg_featmap', drop_path_rate=0.1, with_cp=with_cp)


def _vitae(with_cp):
    return dict(type='hvt.ViTAE', arch=VITAE_TINY, img_size=32, out_type='avg_featmap',
                drop_path_rate=0.1, with_cp=with_cp)


@pytest.mark.parametrize('make', [_vitae, _hivit, _fast_itpn])
def test_with_cp_gives_same_outputs_and_grads(make):
    """Training mode with drop path: checkpointing must replay the same random masks."""
    torch.manual_seed(0)
    ref = MODELS.build(make(False))
    cp = MODELS.build(make(True))
    cp.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 32, 32)
    results = []
    for m in (ref, cp):
        m.train()
        torch.manual_seed(1)
        out = m(x)[-1]
        out.pow(2).sum().backward()
        results.append((out, {n: p.grad for n, p in m.named_parameters()}))
    torch.testing.assert_close(results[1][0], results[0][0])
    assert results[0][1].keys() == results[1][1].keys()
    for n, g in results[0][1].items():
        torch.testing.assert_close(results[1][1][n], g, msg=lambda m, n=n: f'{n}: {m}')


# HiViT (iTPN-L's backbone) has no batch-statistics layers, so batch 2 + 2 equals batch 4
TINY_FSDP = """
_base_ = ['{base}']
model = dict(backbone=dict(arch=dict(_delete_=True, embed_dims=64, depths=[1, 1, 2], num_heads=2),
                           img_size=32, drop_path_rate=0., init_cfg=None),
             head=dict(in_channels=64))
_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=32), dict(type='PackInputs')]
train_dataloader = dict(dataset=dict(pipeline=_pipeline, indices=32), sampler=dict(shuffle=True))
val_dataloader = dict(dataset=dict(pipeline=_pipeline, indices=8))
test_dataloader = val_dataloader
"""


def _optim_state(ckpt):
    """{parameter name: AdamW state} of a plain (ids + param_names) or FSDP (names) checkpoint."""
    state = ckpt['optimizer']['state']
    names = {i: n for g in ckpt['optimizer']['param_groups'] if 'param_names' in g
             for i, n in zip(g['params'], g['param_names'])}
    return {names.get(i, i): s for i, s in state.items()}


def test_fsdp_two_processes_match_plain_runner_and_resume(tiny_data, tmp_path):
    """1 process x batch 4 with the plain Runner == 2 processes x batch 2 with FSDP (epoch 1, same
    lr / weight decay per parameter); ``--resume`` of the FSDP run continues to epoch 2."""
    cfg = tmp_path / 'tiny_itpn_fsdp.py'
    cfg.write_text(TINY_FSDP.format(base=os.path.join(
        ROOT, 'configs/itpn/itpn-hivit-l-p16_clip-pre_8xb128-fsdp-coslr-50e_in1k.py')))

    def opts(work, batch, epochs):
        return [o for o in cls_smoke_options(tiny_data, work, img_size=32, batch_size=batch,
                                             config=str(cfg), epochs=epochs)
                if 'pipeline' not in o] + ['train_cfg.val_interval=100']

    single = tmp_path / 'single'  # the plain Runner, one process, no FSDP
    run_tool('train.py', cfg, '--cfg-options', *opts(single, 4, 2), 'runner_type=Runner',
             'strategy=None')
    double = tmp_path / 'double'
    env = dict(os.environ, PYTHON=sys.executable, PORT='29541', OMP_NUM_THREADS='1',
               PYTHONPATH=ROOT)

    def dist_train(*extra, epochs):
        proc = subprocess.run(['bash', os.path.join(ROOT, 'tools', 'dist_train.sh'), str(cfg),
                               '2', *extra, '--cfg-options', *opts(double, 2, epochs)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-5000:]
        return out

    out = dist_train(epochs=1)
    assert "type='hvt.FSDPStrategy'" in out and "runner_type = 'FlexibleRunner'" in out

    register_safe_globals()

    def compare(epoch, rtol, atol):
        a = torch.load(single / f'epoch_{epoch}.pth', weights_only=True)
        b = torch.load(double / f'epoch_{epoch}.pth', weights_only=True)
        assert a['meta']['iter'] == b['meta']['iter'] == 8 * epoch
        assert a['state_dict'].keys() == b['state_dict'].keys()  # full, unwrapped names
        for k, v in a['state_dict'].items():
            torch.testing.assert_close(b['state_dict'][k], v, rtol=rtol, atol=atol,
                                       msg=lambda m, k=k: f'{k}: {m}')
        return a, b

    a, b = compare(1, rtol=1e-4, atol=5e-5)
    # same lr / weight decay per parameter (sharding flattens every parameter to 1-D; the decay
    # groups must still be there)
    def groups(ckpt, key):
        return sorted((n, g['lr'], g['weight_decay']) for g in ckpt['optimizer']['param_groups']
                      for n in g[key])
    assert groups(b, 'params') == groups(a, 'param_names')
    assert {wd for _, _, wd in groups(a, 'param_names')} == {0.0, 0.05}
    # the optimizer really stepped with non-zero gradients (not two untouched initialisations)
    moments = [s['exp_avg'] for s in a['optimizer']['state'].values()]
    assert moments and any(m.abs().sum() > 0 for m in moments)

    # resume (mmengine 0.10.7's FSDPStrategy crashes here on torch >= 2.1). Known limit: the
    # AdamW moments do not come back exactly, so epoch 2 is close to, not equal to, the plain run.
    out = dist_train('--resume', epochs=2)
    assert 'resumed epoch: 1, iter: 8' in out and 'FSDP resume: the weights are restored' in out
    epochs = re.findall(r'Epoch\(train\) +\[(\d+)\]', out)
    assert epochs and set(epochs) == {'2'}  # it trained epoch 2 only
    # measured (torch 2.14, CPU/gloo): max difference 8.8e-4 (head.fc.weight, which epoch 2
    # moved by 1.6e-3); at most 0.63 x the tensor's own epoch-2 movement
    a2, b2 = compare(2, rtol=0, atol=1e-3)
    a1 = torch.load(single / 'epoch_1.pth', weights_only=True)['state_dict']
    for k, v in a2['state_dict'].items():
        moved = (v - a1[k]).abs().max().item()
        off = (b2['state_dict'][k] - v).abs().max().item()
        assert off <= 0.7 * moved + 1e-6, f'{k}: {off:.3g} from the plain run, moved {moved:.3g}'
    sa, sb = _optim_state(a2), _optim_state(b2)
    assert sa.keys() == sb.keys()
    # the step counts came back (a reset would give 8): AdamW's bias correction depends on them
    assert {float(s['step']) for s in sa.values()} == {float(s['step']) for s in sb.values()} \
        == {16.}
