"""What ``tools/train.py`` and ``tools/test.py`` share: config loading, work dirs, launchers.

Kept in the package (not in ``tools/``) so both tools and the tests use one implementation.
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction

from .data_check import check_datasets, folder_classes
from .fsdp import setup_cpu_fsdp

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys, e.g. train_dataloader.batch_size=8 '
        'model.backbone.drop_path_rate=0.2 (lists: key="[a,b]"; list items: key.0.scale=64)')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    # torchrun passes --local-rank (torch >= 2.0) or sets LOCAL_RANK
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(path: str, cfg_options=None) -> Config:
    """Read a config, with errors that name the file, then apply ``--cfg-options``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path!r}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    follow_backbone_channels(cfg)
    return cfg


def backbone_channels(backbone_cfg) -> list:
    """The channel count of each output of an HVT backbone config, read off a forward pass on the
    ``meta`` device (no memory, no compute), so that it holds for any ``arch`` or arch dict."""
    import copy

    from mmengine.registry import MODELS
    bb = copy.deepcopy(dict(backbone_cfg))
    bb['init_cfg'] = None
    size = bb.get('img_size', 224)
    size = size if isinstance(size, int) else size[0]
    with torch.device('meta'):
        model = MODELS.build(bb).eval()
        outs = model(torch.empty(1, 3, size, size))
    outs = outs if isinstance(outs, (tuple, list)) else (outs, )
    return [int(o.shape[1]) for o in outs]


# (key of the model config, how it takes the backbone's channels: 'last' -> one int, 'all' ->
# the list, 'index' -> the output its in_index names)
CHANNEL_FOLLOWERS = (('head', 'last'), ('neck', 'all'), ('decode_head', 'all'),
                     ('auxiliary_head', 'index'))
# the necks and heads whose in_channels mean "the backbone's outputs" (others, such as iTPN's
# pyramid or a transformer neck, keep what the config says)
FOLLOWING_TYPES = ('LinearClsHead', 'StackedLinearClsHead', 'HeatmapHead', 'FPN', 'UPerHead',
                   'FCNHead')


def follow_backbone_channels(cfg: Config) -> None:
    """Make the heads' ``in_channels`` follow ``model.backbone.arch``: swapping the variant
    (``--cfg-options model.backbone.arch=b``) is enough, without looking up its widths. Applies to
    HVT backbones feeding mmpretrain's linear heads (through global pooling), an FPN, UperNet's
    heads or a heatmap head; each change is printed. ``follow_backbone_channels = False`` in a
    config turns it off."""
    model = cfg.get('model')
    bb = model.get('backbone') if isinstance(model, dict) else None
    if (not isinstance(bb, dict) or not str(bb.get('type', '')).startswith('hvt.')
            or not cfg.get('follow_backbone_channels', True)):
        return
    wanted = [(key, how) for key, how in CHANNEL_FOLLOWERS
              if isinstance(model.get(key), dict)
              and str(model[key].get('type', '')).split('.')[-1] in FOLLOWING_TYPES
              and 'in_channels' in model[key]]
    if model.get('neck') not in (None, ) and ('head', 'last') in wanted:
        neck = str(model.neck.get('type', '')) if isinstance(model.neck, dict) else ''
        if neck.split('.')[-1] not in ('GlobalAveragePooling', ''):
            wanted.remove(('head', 'last'))  # a neck that changes the width decides
    if not wanted:
        return
    try:
        channels = backbone_channels(bb)
    except Exception:  # a backbone the meta device cannot run: keep the config as written
        return
    changed = []
    for key, how in wanted:
        part = model[key]
        if how == 'last':
            new = channels[-1]
        elif how == 'all':
            if not isinstance(part.in_channels, (list, tuple)) or \
                    len(part.in_channels) != len(channels):
                continue
            new = list(channels)
        else:
            index = part.get('in_index', -1)
            if not isinstance(index, int) or not -len(channels) <= index < len(channels):
                continue
            new = channels[index]
        old = part.in_channels
        if (list(old) if isinstance(old, (list, tuple)) else old) != new:
            part.in_channels = new
            changed.append(f'model.{key}.in_channels {old} -> {new}')
    if changed:
        print(f'[hvt] following model.backbone (arch={bb.get("arch")!r}): {"; ".join(changed)}',
              flush=True)


def setup_runtime(cfg: Config, args) -> Config:
    """Apply the options both tools share: work dir, launcher, CPU-safe distributed backend."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.launcher = args.launcher
    cap_workers(cfg)
    if args.launcher != 'none' and not torch.cuda.is_available():
        setup_cpu_distributed(cfg, args.launcher)
        setup_cpu_fsdp(cfg)
    return cfg


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, e.g. a Slurm allocation)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def cap_workers(cfg: Config) -> None:
    """No more dataloader workers than available CPUs: the benchmark configs ask for 5-8, which
    on a 2-core machine only add start-up time and torch's "suggested max number of worker"
    warning. Printed once, naming each capped loader."""
    n = available_cpus()
    capped = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if isinstance(loader, dict) and (loader.get('num_workers') or 0) > n:
            capped.append(f'{key} {loader["num_workers"]} -> {n}')
            loader['num_workers'] = n
    if capped:
        print(f'[hvt] num_workers capped at the {n} available CPUs: {", ".join(capped)}',
              flush=True)


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Multi-process training without CUDA (CPU nodes, CI), which mmengine 0.10 cannot start alone.

    * mmengine's launchers call ``torch.cuda.set_device`` unconditionally ("Found no NVIDIA
      driver"). A gloo process group initialised here, before the Runner exists, makes the Runner
      skip its own launcher.
    * mmengine's DDP wrapper passes ``device_ids=[LOCAL_RANK]``; a CPU module needs ``None``.
    """
    import torch.distributed as dist
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    # map the launcher's variables onto the ones torch's env:// rendezvous reads
    sources = {'slurm': ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID'),
               'mpi': ('OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE',
                       'OMPI_COMM_WORLD_LOCAL_RANK')}.get(launcher)
    if sources:
        for var, src, default in zip(('RANK', 'WORLD_SIZE', 'LOCAL_RANK'), sources,
                                     ('0', '1', '0')):
            os.environ.setdefault(var, os.environ.get(src, default))
        os.environ.setdefault('MASTER_PORT', os.environ.get('PORT', '29500'))
        os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo', init_method='env://')
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def finish_distributed() -> None:
    """Tear down the process group once the job is done (train.py / test.py call it last).

    Left to interpreter exit, gloo's worker threads can be destroyed while still joinable, which
    aborts the process ("terminate called without an active exception", exit code -6) after all
    work and checkpoints are written; seen once in ``tests/test_fsdp.py``.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def enable_amp(cfg: Config, device: str = None) -> None:
    """Switch the optimizer wrapper to mixed precision (``--amp``).

    On CUDA (or NPU/MLU): mmengine's ``AmpOptimWrapper``, fp16 autocast with a dynamic loss scale.
    On the CPU: ``hvt.CPUAmpOptimWrapper``, bf16 autocast (``dtype='bfloat16'``), no loss scale
    (bf16 has fp32's range). ``device`` defaults to what this machine has.
    """
    if device is None:
        gpu = torch.cuda.is_available() or hasattr(torch, 'npu') or hasattr(torch, 'mlu')
        device = 'cuda' if gpu else 'cpu'
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper in ('AmpOptimWrapper', 'CPUAmpOptimWrapper', 'hvt.CPUAmpOptimWrapper'):
        return
    if wrapper != 'OptimWrapper':
        raise ValueError(f'--amp only converts optim_wrapper type "OptimWrapper", not {wrapper!r}')
    if device == 'cpu':
        import hvt.engine.amp  # noqa: F401  (registers the wrapper)
        cfg.optim_wrapper.type = 'hvt.CPUAmpOptimWrapper'
        cfg.optim_wrapper.dtype = 'bfloat16'
    else:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')


def enable_compile(cfg: Config) -> None:
    """``--compile``: mmengine's ``compile=True`` (``model.train_step`` under ``torch.compile``).

    The optimizer step inside it stays eager (:func:`keep_optimizer_step_eager`).
    """
    cfg.compile = True
    keep_optimizer_step_eager()


def keep_optimizer_step_eager() -> None:
    """Run ``OptimWrapper.update_params`` (backward call, optimizer step) outside dynamo.

    Dynamo tracing the optimizer step of an mmengine wrapper fails on torch 2.14
    (``InternalTorchDynamoError: 'UserDefinedDictVariable' object has no attribute 'items'``
    in ``_set_capturable``, from the param groups). The step is a loop of small element-wise
    updates that compiling gains little on; the model's forward (and, through AOTAutograd, its
    backward) is still compiled. Applies to every wrapper that inherits ``update_params``
    (``OptimWrapper``, ``AmpOptimWrapper``, ``hvt.CPUAmpOptimWrapper``).
    """
    from mmengine.optim import OptimWrapper
    if not getattr(OptimWrapper.update_params, '_hvt_eager', False):
        eager = torch._dynamo.disable(OptimWrapper.update_params)
        eager._hvt_eager = True
        OptimWrapper.update_params = eager


def enable_auto_scale_lr(cfg: Config) -> None:
    """``--auto-scale-lr``: scale the lr by (GPUs x batch per GPU) / ``auto_scale_lr.base_batch_size``."""
    if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
        raise ValueError('--auto-scale-lr needs `auto_scale_lr = dict(base_batch_size=...)` in the '
                         'config (key "auto_scale_lr.base_batch_size" is missing)')
    cfg.auto_scale_lr.enable = True


# The visualization hook of each library, and how to make it draw into a folder.
# interval=1: draw every test image (mmseg's hook would otherwise draw only every 50th batch).
_SHOW_DIR_KEYS = {
    'VisualizationHook': dict(enable=True, out_dir='{}', interval=1),        # mmpretrain
    'DetVisualizationHook': dict(draw=True, test_out_dir='{}', interval=1),  # mmdet
    'SegVisualizationHook': dict(draw=True, interval=1),                     # mmseg: via visualizer
    'PoseVisualizationHook': dict(enable=True, out_dir='{}', interval=1),    # mmpose
}


def enable_show_dir(cfg: Config, show_dir: str) -> None:
    """``--show-dir``: draw test predictions into ``show_dir`` with the library's own hook."""
    hook = cfg.get('default_hooks', {}).get('visualization')
    if hook is None:
        raise ValueError('--show-dir needs default_hooks.visualization in the config')
    name = hook['type'].split('.')[-1]
    if name not in _SHOW_DIR_KEYS:
        raise ValueError(f'--show-dir: unsupported visualization hook {hook["type"]!r}; '
                         f'known: {sorted(_SHOW_DIR_KEYS)}')
    for key, value in _SHOW_DIR_KEYS[name].items():
        hook[key] = value.format(show_dir) if isinstance(value, str) else value
    cfg.visualizer['save_dir'] = show_dir


def _datasets(cfg_dataset, key):
    """Yield ``(config key, dataset dict)`` for a dataset config and the datasets it wraps."""
    if not isinstance(cfg_dataset, dict):
        return
    yield key, cfg_dataset
    if isinstance(cfg_dataset.get('dataset'), dict):
        yield from _datasets(cfg_dataset['dataset'], key + '.dataset')
    for i, sub in enumerate(cfg_dataset.get('datasets', []) or []):
        yield from _datasets(sub, f'{key}.datasets.{i}')


def check_data_paths(cfg: Config, loaders=('train_dataloader', 'val_dataloader',
                                           'test_dataloader')) -> None:
    """Fail before building anything if a dataset root or annotation file does not exist, an
    annotation refers to a missing image or has a label outside the classes, or a folder split's
    class folders differ from the training split's (:mod:`hvt.engine.data_check`).

    The error names the config key and the path, e.g. ``train_dataloader.dataset.data_root:
    'data/coco/' does not exist``, and says how to point it elsewhere. Folder datasets of val /
    test that name no classes get the training split's (``metainfo.classes``), checked against
    their own folders: ``tools/test.py`` compares with ``train_dataloader`` too, where it exists.
    """
    from .data_check import check_folder_classes
    reference = None  # (key, folder, class folders) of the training split, if a folder dataset
    if isinstance(cfg.get('train_dataloader'), dict):
        for key, ds in _datasets(cfg.train_dataloader.get('dataset'), 'train_dataloader.dataset'):
            found = folder_classes(ds)
            if found is not None:
                if 'train_dataloader' in loaders:
                    check_folder_classes(key, ds)  # against the config's classes, if any
                reference = (key, *found)
                break
    to_check = []
    for loader in loaders:
        if not isinstance(cfg.get(loader), dict):
            continue
        for key, ds in _datasets(cfg[loader].get('dataset'), f'{loader}.dataset'):
            root = ds.get('data_root') or ''
            if root and '://' not in root and not osp.isdir(root):
                raise FileNotFoundError(
                    f'{key}.data_root: dataset root {root!r} does not exist. Point it at your data '
                    f'with --cfg-options {key}.data_root=/path/to/data')
            ann = ds.get('ann_file') or ''
            if ann and '://' not in ann:
                path = ann if osp.isabs(ann) or not root else osp.join(root, ann)
                if not osp.isfile(path):
                    raise FileNotFoundError(
                        f'{key}.ann_file: annotation file {path!r} does not exist')
            if not key.startswith('train_dataloader'):
                check_folder_classes(key, ds, reference)
            if cfg.get('check_image_files', True):
                to_check.append((key, ds))
    head = cfg.get('model', {}).get('head') if isinstance(cfg.get('model'), dict) else None
    num_classes = head.get('num_classes') if isinstance(head, dict) else None
    # images and labels (rank 0 in a distributed run)
    check_datasets(to_check, num_classes if isinstance(num_classes, int) else None)
