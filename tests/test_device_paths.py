"""GPU readiness, checked on the CPU.

* Device-neutral hot paths: the cache-sized pieces of ``hvt/models/layers/chunk.py`` and the NHWC
  switch of ViTAEv2 are CPU tunings. On any other device (``meta`` here, CUDA on a cluster) every
  ``nn.Linear`` / ``nn.Conv2d`` runs once per forward whatever the batch; on the CPU the pieces
  still kick in.
* ``torch.compile``: no graph breaks in any family, eval and train mode (``torch._dynamo.explain``,
  no code generation).
* Mixed precision: forward + backward under bf16 (and fp16 where the CPU autocasts to it) stays
  finite and within cosine 0.999 of fp32.
* ``tools/train.py --compile`` / ``--amp`` land in the config the runner gets.
"""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

import hvt.models  # noqa: F401
from hvt.models.layers import chunk
from hvt.registry import MODELS

# the smallest zoo variant of each family (built on the meta device: no memory, no compute)
ZOO = {
    'vitae': dict(type='hvt.ViTAE', arch='t'),
    'vitaev2': dict(type='hvt.ViTAEv2', arch='s'),
    'dualvit': dict(type='hvt.DualViT', arch='s'),
    'dualvit-cls': dict(type='hvt.DualViT', arch='s', mode='cls'),
    'cetnet': dict(type='hvt.CETNet', arch='t'),
    'hivit': dict(type='hvt.HiViT', arch='t'),
    'fast-itpn': dict(type='hvt.FastiTPN', arch='t'),
}

# narrowed archs for real (CPU) forward passes, 64x64 inputs
_FAST = dict(embed_dims=64, depths=(1, 1, 2), num_heads=2)
TINY = {
    'vitae': dict(type='hvt.ViTAE', arch=dict(embed_dims=[8, 8, 16], token_dims=[8, 16, 32],
                                              depth=2, num_heads=2, nc_groups=8, mlp_ratio=2.)),
    'vitaev2': dict(type='hvt.ViTAEv2', arch=dict(
        embed_dims=[8, 8, 16, 16], token_dims=[16, 32, 48, 64], depths=[1, 1, 2, 1],
        rc_heads=[1, 1, 2, 2], nc_heads=[1, 2, 2, 4], rc_groups=[1, 4, 8, 8],
        nc_groups=[1, 8, 8, 16])),
    'dualvit': dict(type='hvt.DualViT', arch=dict(
        stem_hidden_dim=8, embed_dims=[16, 16, 32, 32], depths=[1, 1, 1, 1],
        num_heads=[1, 1, 2, 2], mlp_ratios=[2, 2, 2, 2])),
    'cetnet': dict(type='hvt.CETNet', arch=dict(embed_dims=32, depths=[1, 1, 1, 1],
                                                num_heads=[1, 2, 2, 4])),
    'hivit': dict(type='hvt.HiViT', arch=dict(embed_dims=64, depths=[1, 1, 2], num_heads=2)),
    'fast-itpn': dict(type='hvt.FastiTPN', arch=_FAST),
    # mig40-gt-rpe style: 40% token migration, gathering-token windows with RPE, one global block
    'fast-itpn-mig-gt': dict(
        type='hvt.FastiTPN', arch=dict(_FAST, depths=(1, 1, 4)), migration_ratio=0.4,
        drop_layers=None, migration_schedule='cumulative', attn_mode='gathering', window_size=2,
        global_attn_indexes=(1, ), window_rpe='rpe', gathering_init='mean',
        gathering_query='input', out_indices=(0, 1, 2)),
}
TINY['dualvit-cls'] = dict(TINY['dualvit'], mode='cls')


def _outputs(out):
    """The tensors of a backbone output (a tensor or nested tuples of tensors)."""
    if torch.is_tensor(out):
        return [out]
    return [t for o in out for t in _outputs(o)]


class _CountCalls(TorchFunctionMode):
    """Counts linear / conv / fused-attention calls, however they are made (module or F.*)."""
    COUNTED = (F.linear, F.conv2d, F.scaled_dot_product_attention)

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in self.COUNTED:
            self.calls += 1
        return func(*args, **(kwargs or {}))


def _count_layer_calls(model, x):
    with torch.no_grad(), _CountCalls() as counter:
        model(x)
    return counter.calls


@pytest.fixture(scope='module')
def meta_models():
    cache = {}

    def get(name):
        if name not in cache:
            with torch.device('meta'):
                cache[name] = MODELS.build(ZOO[name]).eval()
        return cache[name]

    return get


@pytest.mark.parametrize('name', sorted(ZOO))
def test_one_call_per_layer_off_cpu(name, meta_models):
    """Meta tensors are not CPU tensors: one call per layer (and one fused attention per
    attention layer) at batch 2 and batch 64 alike."""
    model = meta_models(name)
    counts = [_count_layer_calls(model, torch.empty(b, 3, 224, 224, device='meta'))
              for b in (2, 64)]
    assert counts[0] == counts[1], f'{name}: {counts[0]} layer calls at batch 2, {counts[1]} at 64'
    print(f'{name}: {counts[0]} linear/conv/attention calls at batch 2 and 64')


@pytest.mark.parametrize('name', sorted(ZOO))
def test_meta_count_would_see_pieces(name, meta_models, monkeypatch):
    """The counter does see pieces: with the CPU tuning forced on, batch 256 makes more calls."""
    model = meta_models(name)
    monkeypatch.setattr(chunk, 'cpu_tuned', lambda x: True)
    counts = [_count_layer_calls(model, torch.empty(b, 3, 224, 224, device='meta'))
              for b in (2, 256)]
    assert counts[1] > counts[0], counts


def test_cpu_still_splits_wide_inputs(monkeypatch):
    from hvt.models.layers import Mlp
    monkeypatch.setattr(chunk, 'CHUNK_BYTES', 4096)
    cpu = Mlp(16, 64)
    x = torch.randn(8, 64, 16)  # 512 tokens x 64 hidden x 4 bytes = 128 KiB: 32 pieces
    assert _count_layer_calls(cpu, x) == 2 * 32
    meta = Mlp(16, 64).to('meta')
    assert _count_layer_calls(meta, x.to('meta')) == 2


def test_channels_last_only_on_cpu():
    layouts = []
    for device in ('cpu', 'meta'):
        with torch.device(device):
            model = MODELS.build(TINY['vitaev2']).eval()
        first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
        h = first.register_forward_pre_hook(lambda m, a: layouts.append(
            a[0].is_contiguous(memory_format=torch.channels_last) and not a[0].is_contiguous()))
        with torch.no_grad():
            model(torch.randn(2, 3, 64, 64, device=device))
        h.remove()
    assert layouts == [True, False]


@pytest.mark.parametrize('mode', ['eval', 'train'])
@pytest.mark.parametrize('name', sorted(TINY))
def test_no_graph_breaks(name, mode):
    torch.manual_seed(0)
    model = MODELS.build(TINY[name])
    getattr(model, mode)()
    torch._dynamo.reset()
    try:
        explained = torch._dynamo.explain(model)(torch.randn(2, 3, 64, 64))
    finally:
        torch._dynamo.reset()
    reasons = [str(getattr(b, 'reason', b))[:300] for b in explained.break_reasons]
    assert explained.graph_break_count == 0, reasons


def _cpu_autocast_dtypes():
    dtypes = [torch.bfloat16]
    try:
        with torch.autocast('cpu', dtype=torch.float16):
            ok = torch.ones(2, 2) @ torch.ones(2, 2)
        if ok.dtype == torch.float16:
            dtypes.append(torch.float16)
    except (RuntimeError, AssertionError):  # torch < 2.3: CPU autocast knows bf16 only
        pass
    return dtypes


def _fwd_bwd(model, x, dtype):
    model.zero_grad()
    torch.manual_seed(1)  # the same dropout / drop-path draws in every precision
    with torch.autocast('cpu', dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        out = torch.cat([o.float().flatten() for o in _outputs(model(x))])
        loss = out.square().mean()
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    return out.detach(), loss.detach(), grads


@pytest.mark.parametrize('dtype', _cpu_autocast_dtypes(), ids=str)
@pytest.mark.parametrize('name', sorted(TINY))
def test_mixed_precision_trains(name, dtype):
    """Forward + backward in train mode (dropout, drop path, migration), BatchNorm on running
    statistics: batch statistics over two 64-pixel images (2x2 maps at stride 32) re-amplify the
    rounding at every layer (CETNet-tiny: cosine 0.996 with them, 0.99999 without), which says
    nothing about a real batch."""
    torch.manual_seed(0)
    model = MODELS.build(TINY[name]).train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    x = torch.randn(2, 3, 64, 64)
    ref, _, ref_grads = _fwd_bwd(model, x, None)
    out, loss, grads = _fwd_bwd(model, x, dtype)
    assert torch.isfinite(out).all() and torch.isfinite(loss)
    assert grads.keys() == ref_grads.keys()
    bad = [n for n, g in grads.items() if not torch.isfinite(g).all()]
    assert not bad, f'non-finite gradients under {dtype}: {bad[:5]}'
    cos = F.cosine_similarity(out, ref, dim=0).item()
    print(f'{name} {dtype}: cosine to fp32 {cos:.6f}')
    assert cos >= 0.999, f'{name} {dtype}: cosine to fp32 {cos:.6f}'


def _train_cfg(monkeypatch, *flags):
    import train
    seen = {}

    class Stop(Exception):
        pass

    class Runner:
        @staticmethod
        def from_cfg(cfg):
            seen['cfg'] = cfg
            raise Stop

    monkeypatch.setattr(train, 'runner_class', lambda cfg: Runner)
    monkeypatch.setattr(train, 'check_data_paths', lambda cfg: None)
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    with pytest.raises(Stop):
        train.main([osp.join(root, 'configs/demo/vitaev2-demo_shapes.py'), *flags])
    return seen['cfg']


@pytest.fixture
def train_module(monkeypatch):
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    monkeypatch.syspath_prepend(osp.join(root, 'tools'))


def test_train_compile_and_amp_land_in_config(train_module, monkeypatch, tmp_path):
    plain = _train_cfg(monkeypatch, '--work-dir', str(tmp_path))
    assert not plain.get('compile')
    cfg = _train_cfg(monkeypatch, '--work-dir', str(tmp_path), '--compile', '--amp')
    assert cfg.compile is True
    from mmengine.optim import OptimWrapper
    assert OptimWrapper.update_params._hvt_eager  # the optimizer step stays out of dynamo
    if torch.cuda.is_available():
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
        assert cfg.optim_wrapper.loss_scale == 'dynamic'
    else:
        assert cfg.optim_wrapper.type == 'hvt.CPUAmpOptimWrapper'
        assert cfg.optim_wrapper.dtype == 'bfloat16'


def test_cpu_amp_wrapper_autocasts_to_bf16():
    from mmengine.registry import OPTIM_WRAPPERS

    import hvt.engine  # noqa: F401
    model = nn.Linear(4, 4)
    wrapper = OPTIM_WRAPPERS.build(dict(type='hvt.CPUAmpOptimWrapper', dtype='bfloat16',
                                        optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    with wrapper.optim_context(model):
        y = model(torch.randn(2, 4))
    assert y.dtype == torch.bfloat16
    wrapper.update_params(y.float().square().mean())
    assert all(p.dtype == torch.float32 for p in model.parameters())
