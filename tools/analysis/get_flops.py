"""FLOPs and parameters of a config's model, on the CPU with real tensors.

    python tools/analysis/get_flops.py CONFIG [--shape H W] [--cfg-options KEY=VAL ...]

Convention (the one HVT uses everywhere, also in tools/analysis/model_zoo.py --flops): mmengine's
``FlopAnalyzer`` (the fvcore counter, JIT trace of one forward at batch 1), which counts one
multiply-accumulate as one FLOP for convolutions, linear layers and every matmul / bmm / einsum,
so the attention matmuls are included. ``F.scaled_dot_product_attention`` is counted as its two
matmuls (q k^T and attn v). Norm layers, upsampling and adaptive pooling add their small fvcore
counts; softmax, activations and element-wise ops are not counted. This is the convention of most
paper rows (multiply-accumulates, attention included); the per-family specs say where a paper row
used another one.

For a classifier (mmpretrain ``ImageClassifier``) the whole network is counted: backbone, neck and
head (``mode='tensor'`` forward). Other models (detectors, segmentors) are counted through their
``extract_feat`` (backbone and neck). The model is built without loading any checkpoint.
"""
import argparse
import math
import os.path as osp
import sys
import time

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _shape(value):
    from mmengine.analysis.jit_handles import get_shape
    return get_shape(value)


def sdpa_flop_jit(inputs, outputs):
    """``aten::scaled_dot_product_attention``: the q k^T and attn v matmuls, one MAC = one FLOP."""
    q, k, v = (_shape(x) for x in inputs[:3])
    batch = math.prod(torch.broadcast_shapes(tuple(q[:-2]), tuple(k[:-2]), tuple(v[:-2])))
    n, d = q[-2], q[-1]
    m, dv = k[-2], v[-1]
    return batch * n * m * (d + dv)


def count_flops(model, shape=(224, 224), batch=1):
    """FLOPs of one forward of ``model`` on a (batch, 3, H, W) random input (see module doc)."""
    from mmengine.analysis import FlopAnalyzer
    from mmengine.logging import MMLogger
    model.eval()
    forward = model
    if not _is_classifier(model) and hasattr(model, 'extract_feat'):
        forward = _ExtractFeat(model)
    inputs = torch.randn(batch, 3, *shape)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('ERROR')  # unsupported element-wise ops are expected and not counted
    try:
        with torch.no_grad():
            analyzer = FlopAnalyzer(forward, (inputs, ))
            analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_flop_jit)
            analyzer.unsupported_ops_warnings(False)
            analyzer.uncalled_modules_warnings(False)
            return int(analyzer.total())
    finally:
        logger.setLevel(level)


class _ExtractFeat(torch.nn.Module):

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.extract_feat(x)


def _is_classifier(model):
    return type(model).__name__ == 'ImageClassifier'


def load_model_cfg(config, cfg_options=None):
    """A config file, with ``--cfg-options`` style overrides merged in."""
    from mmengine.config import Config
    import hvt  # noqa: F401  (hvt:: bases, e.g. the custom templates)
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def build_model(model_cfg, scope='mmpretrain', device=None):
    """Build ``model_cfg`` in ``scope`` (the config's ``default_scope``) without initialising
    weights; on ``device`` (``'meta'`` for parameter counts) if given."""
    import hvt.models  # noqa: F401  (registers hvt.*)
    from mmengine.registry import init_default_scope
    from mmengine.registry import MODELS as ROOT_MODELS
    init_default_scope(scope)
    registry = ROOT_MODELS
    if scope == 'mmpretrain':
        from mmpretrain.registry import MODELS as registry
    elif scope == 'mmdet':
        from mmdet.registry import MODELS as registry
    elif scope == 'mmseg':
        from mmseg.registry import MODELS as registry
    elif scope == 'mmpose':
        from mmpose.registry import MODELS as registry
    if device is None:
        return registry.build(model_cfg)
    with torch.device(device):
        if str(device) != 'meta':
            return registry.build(model_cfg)
        with _SkipInplaceOnMeta():
            return registry.build(model_cfg)


class _SkipInplaceOnMeta(torch.overrides.TorchFunctionMode):
    """Skip in-place ops (the weight initialisers: ``normal_``, ``clamp_``, ``uniform_``, ...) on
    meta tensors: their values do not exist, and running them through the meta decompositions
    takes most of the build time. Shapes, and so parameter counts, are unchanged."""

    KEEP = {'requires_grad_', 'resize_', 'set_', 'as_strided_', 'squeeze_', 'unsqueeze_',
            'transpose_', 't_', 'swapdims_', 'swapaxes_', 'copy_'}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, '__name__', '')
        if (name.endswith('_') and not name.endswith('__') and name not in self.KEEP and args
                and isinstance(args[0], torch.Tensor) and args[0].is_meta):
            return args[0]
        return func(*args, **(kwargs or {}))


def quiet_logs():
    """Keep mmengine's INFO lines (e.g. the data preprocessor's one-hot note) out of the tables."""
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel('WARNING')


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config', help='config file')
    p.add_argument('--shape', type=int, nargs='+', default=[224, 224],
                   help='input H W (one number: square); default 224 224')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='override config values, KEY=VAL')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    shape = tuple(args.shape * 2 if len(args.shape) == 1 else args.shape)
    if len(shape) != 2:
        raise SystemExit(f'--shape takes H W (or one number), got {args.shape}')
    torch.set_num_threads(max(1, torch.get_num_threads()))
    quiet_logs()
    cfg = load_model_cfg(args.config, args.cfg_options)
    scope = cfg.get('default_scope', 'mmpretrain')
    print(f'building {osp.basename(args.config)} (scope {scope}) on the CPU ...', file=sys.stderr,
          flush=True)
    model = build_model(cfg.model, scope)
    params = n_params(model)
    print(f'counting FLOPs at {shape[0]}x{shape[1]} (JIT trace, batch 1) ...', file=sys.stderr,
          flush=True)
    t0 = time.perf_counter()
    flops = count_flops(model, shape)
    sep = '=' * 40
    print(sep)
    print(f'Config: {args.config}')
    print(f'Input shape: (3, {shape[0]}, {shape[1]})')
    print(f'Flops: {flops / 1e9:.3f} G ({flops} MACs, attention matmuls included)')
    print(f'Params: {params / 1e6:.3f} M ({params})')
    print(f'(counted in {time.perf_counter() - t0:.1f} s)')
    print(sep)


if __name__ == '__main__':
    main()
