"""One-minute self-check of a config on a device: run it before a cluster job.

    python tools/analysis/device_check.py CONFIG [--device cuda|cpu] [--amp] [--compile]
        [--batch N] [--steps N] [--input-size H W] [--json FILE] [--cfg-options KEY=VAL ...]

It builds the config's model (random weights, nothing downloaded) and, on ``--device``:

1. runs ``--steps`` train steps (``model.train_step`` with the config's optimizer wrapper; with
   ``--amp`` the one ``tools/train.py --amp`` uses: fp16 + dynamic loss scale on CUDA, bf16 on the
   CPU) on synthetic batches made for the task: class labels, a few boxes with masks, a semantic
   map, or keypoint heatmaps; every loss must be finite;
2. runs an eval forward of the trained weights on the device and the same forward of the same
   weights in fp32 on the CPU, and compares them (classification: the logits; detection,
   segmentation, pose: the backbone + neck features of ``extract_feat``). Cosine similarity must be
   >= 0.999 (>= 0.99 with ``--amp``);
3. reports train and eval images/s, peak memory (``torch.cuda.max_memory_allocated`` on CUDA, the
   process's peak RSS on the CPU), the attention kernels seen in a profiled eval forward, and
   with ``--compile`` the graph breaks of the backbone (``torch._dynamo.explain``).

Exit status: 0 when everything agrees, 1 when a loss is not finite or the device disagrees with
the CPU reference, 2 for usage errors.
"""
import argparse
import copy
import json
import math
import os.path as osp
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
for path in (ROOT, osp.dirname(osp.abspath(__file__))):
    if path not in sys.path:
        sys.path.insert(0, path)

from get_flops import build_model, quiet_logs  # noqa: E402

COSINE_MIN = {False: 0.999, True: 0.99}  # by --amp


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                   help='cuda, cuda:N or cpu (default: cuda when visible)')
    p.add_argument('--amp', action='store_true',
                   help='mixed precision as tools/train.py --amp: fp16 on CUDA, bf16 on the CPU')
    p.add_argument('--compile', action='store_true', help='torch.compile train step and forward')
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--steps', type=int, default=2, help='train steps (and timed eval forwards)')
    p.add_argument('--input-size', type=int, nargs=2, default=(224, 224), metavar=('H', 'W'))
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', help='also write the report to this file')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys')
    # hidden: perturb the device weights after the reference copy (tests the failure exit)
    p.add_argument('--self-test-perturb', type=float, default=0., help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ----------------------------------------------------------------------------- synthetic batches
def _head_classes(cfg, *keys, default=10):
    for key in keys:
        node = cfg.model
        for part in key.split('.'):
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, int):
            return node
    return default


def _roi_classes(cfg):
    head = cfg.model.get('roi_head', {}).get('bbox_head')
    if isinstance(head, (list, tuple)):
        head = head[0]
    if isinstance(head, dict) and isinstance(head.get('num_classes'), int):
        return head['num_classes']
    return _head_classes(cfg, 'bbox_head.num_classes', default=3)


def make_batch(task, cfg, n, h, w, gen):
    """``dict(inputs=[uint8 CHW images], data_samples=[...])`` as a dataloader would yield it."""
    from mmengine.structures import InstanceData, PixelData
    inputs = [torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8)
              for _ in range(n)]
    meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), scale_factor=(1., 1.),
                flip=False, flip_direction=None)
    samples = []
    for i in range(n):
        if task == 'classification':
            from mmpretrain.structures import DataSample
            k = _head_classes(cfg, 'head.num_classes')
            s = DataSample(metainfo=meta).set_gt_label(i % k)
        elif task == 'detection':
            from mmdet.structures import DetDataSample
            from mmdet.structures.mask import BitmapMasks
            k = _roi_classes(cfg)
            boxes, masks = [], np.zeros((3, h, w), np.uint8)
            for j in range(3):  # three boxes of a quarter to a half of the image side
                bw, bh = w * (0.25 + 0.25 * j / 3), h * (0.25 + 0.25 * j / 3)
                x1, y1 = (w - bw) * j / 3, (h - bh) * (2 - j) / 3
                boxes.append([x1, y1, x1 + bw, y1 + bh])
                masks[j, int(y1):int(y1 + bh), int(x1):int(x1 + bw)] = 1
            s = DetDataSample(metainfo=dict(meta, img_id=i))
            s.gt_instances = InstanceData(
                bboxes=torch.tensor(boxes, dtype=torch.float32),
                labels=torch.arange(3) % k, masks=BitmapMasks(masks, h, w))
            s.ignored_instances = InstanceData(bboxes=torch.zeros(0, 4),
                                               labels=torch.zeros(0, dtype=torch.long))
        elif task == 'segmentation':
            from mmseg.structures import SegDataSample
            k = _head_classes(cfg, 'decode_head.num_classes', default=2)
            s = SegDataSample(metainfo=meta)
            s.gt_sem_seg = PixelData(
                data=torch.randint(0, k, (1, h, w), generator=gen, dtype=torch.long))
        else:  # top-down heatmap pose
            from mmpose.structures import PoseDataSample
            k = _head_classes(cfg, 'head.out_channels', default=17)
            hm = cfg.model.get('head', {}).get('decoder', {}).get('heatmap_size', (w // 4, h // 4))
            s = PoseDataSample(metainfo=dict(
                meta, input_size=(w, h), input_center=np.array([w / 2, h / 2], np.float32),
                input_scale=np.array([w, h], np.float32), flip_indices=list(range(k))))
            s.gt_fields = PixelData(heatmaps=torch.rand(k, hm[1], hm[0], generator=gen))
            s.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, k))
            s.gt_instances = InstanceData(bboxes=np.array([[0, 0, w, h]], np.float32),
                                          bbox_scores=np.ones(1, np.float32))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


# ----------------------------------------------------------------------------- measurements
def _flat(out):
    if torch.is_tensor(out):
        return [out.detach().float().cpu().flatten()]
    if isinstance(out, dict):
        out = list(out.values())
    return [t for o in out for t in _flat(o)]


def eval_output(model, task, inputs):
    """Classification: logits; other tasks: backbone (+ neck) features."""
    if task == 'classification':
        return model(inputs, mode='tensor')
    return model.extract_feat(inputs)


def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def attention_kernels(fn, device):
    """Names of the attention kernels / ops a profiled call of ``fn`` ran."""
    found = set()
    try:
        from torch.profiler import ProfilerActivity, profile
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == 'cuda' else [])
        with profile(activities=acts) as prof:
            fn()
            _sync(device)
        for e in prof.events():
            name = e.name.lower()
            if any(k in name for k in ('flash', 'efficient', 'fmha', 'scaled_dot_product',
                                       'cudnn_attention')):
                found.add(e.name[:80])
    except Exception as e:  # the profiler is optional
        found.add(f'profiler unavailable ({type(e).__name__})')
    if device.type == 'cuda':
        flags = []
        for name in ('flash', 'mem_efficient', 'math', 'cudnn'):
            check = getattr(torch.backends.cuda, f'{name}_sdp_enabled', None)
            if check is not None:
                flags.append(f'{name}={"on" if check() else "off"}')
        summary = 'enabled SDPA backends: ' + ', '.join(flags)
    else:
        summary = 'math/cpu-fused'
    return summary, sorted(found)


def peak_memory_mib(device):
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def graph_breaks(backbone, inputs):
    import torch._dynamo
    torch._dynamo.reset()
    try:
        explained = torch._dynamo.explain(backbone)(inputs)
    finally:
        torch._dynamo.reset()
    return explained.graph_break_count, [str(getattr(b, 'reason', b))[:200]
                                         for b in explained.break_reasons][:5]


# ----------------------------------------------------------------------------- the check
def run_check(args):
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    from hvt.apis.inference import _import_modules, scope_of_task, task_of
    from hvt.engine.cli import enable_amp, keep_optimizer_step_eager, load_config

    device = torch.device(args.device)
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise SystemExit('device_check: --device cuda but no GPU is visible')
        torch.cuda.reset_peak_memory_stats(device)
    cfg = load_config(args.config, args.cfg_options)
    task = task_of(cfg)
    _import_modules(cfg)
    scope = scope_of_task(task)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    h, w = args.input_size
    report = dict(config=args.config, task=task, device=str(device), amp=args.amp,
                  compile=args.compile, batch=args.batch, steps=args.steps, input_size=[h, w])
    with DefaultScope.overwrite_default_scope(scope):
        model = build_model(cfg.model, scope).to(device)
        if args.amp:
            enable_amp(cfg, 'cpu' if device.type == 'cpu' else 'cuda')
        elif cfg.optim_wrapper.get('type') == 'AmpOptimWrapper':  # fp32 was asked for
            cfg.optim_wrapper.type = 'OptimWrapper'
            for key in ('loss_scale', 'dtype', 'use_fsdp'):
                cfg.optim_wrapper.pop(key, None)
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        train_step = model.train_step
        if args.compile:  # what mmengine's compile=True does (tools/train.py --compile)
            keep_optimizer_step_eager()
            train_step = torch.compile(train_step)

        # 1. train steps
        model.train()
        losses = []
        for step in range(args.steps):
            if step == min(1, args.steps - 1):  # the first step warms up, unless it is the only one
                _sync(device)
                start = time.perf_counter()
            log_vars = train_step(make_batch(task, cfg, args.batch, h, w, gen), wrapper)
            losses.append(float(log_vars['loss'].detach()) if torch.is_tensor(log_vars['loss'])
                          else float(log_vars['loss']))
        _sync(device)
        timed = max(args.steps - 1, 1)
        report['losses'] = losses
        report['train_img_per_s'] = args.batch * timed / (time.perf_counter() - start)

        # 2. eval forward on the device and the fp32 CPU reference of the same weights
        model.eval()
        reference = copy.deepcopy(model).cpu().float()
        if args.self_test_perturb:
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(torch.randn_like(p) * args.self_test_perturb)
        data = model.data_preprocessor(make_batch(task, cfg, args.batch, h, w, gen), False)
        inputs = data['inputs']
        amp_dtype = torch.bfloat16 if device.type == 'cpu' else torch.float16

        def forward(m=model, x=inputs):
            with torch.no_grad(), torch.autocast(device.type, dtype=amp_dtype,
                                                 enabled=args.amp):
                return eval_output(m, task, x)

        fwd = torch.compile(forward) if args.compile else forward
        out = fwd()
        _sync(device)
        start = time.perf_counter()
        for _ in range(args.steps):
            out = fwd()
        _sync(device)
        report['eval_img_per_s'] = args.batch * args.steps / (time.perf_counter() - start)
        with torch.no_grad():
            ref = eval_output(reference, task, inputs.detach().float().cpu())
        got, want = torch.cat(_flat(out)), torch.cat(_flat(ref))
        cosine = F.cosine_similarity(got.double(), want.double(), dim=0).item()
        report['cosine'] = cosine
        report['max_abs_diff'] = (got - want).abs().max().item()
        report['cosine_min'] = COSINE_MIN[args.amp]
        report['compared'] = 'logits' if task == 'classification' else 'extract_feat features'

        # 3. kernels, memory, graph breaks
        report['attention'], report['attention_kernels'] = attention_kernels(forward, device)
        report['peak_memory_mib'] = peak_memory_mib(device)
        if args.compile:
            report['graph_breaks'], report['graph_break_reasons'] = graph_breaks(
                model.backbone, inputs)
    finite = all(math.isfinite(x) for x in losses) and torch.isfinite(got).all().item()
    report['finite'] = bool(finite)
    report['ok'] = bool(finite and cosine >= COSINE_MIN[args.amp]
                        and not report.get('graph_breaks'))
    return report


def print_report(r):
    print(f"[device_check] {r['config']}  task={r['task']}  device={r['device']}  "
          f"amp={r['amp']}  compile={r['compile']}  batch={r['batch']}  "
          f"input={r['input_size'][0]}x{r['input_size'][1]}")
    print(f"[device_check] train: losses {', '.join(f'{x:.4f}' for x in r['losses'])}  "
          f"{r['train_img_per_s']:.2f} img/s")
    print(f"[device_check] eval: {r['eval_img_per_s']:.2f} img/s  peak memory "
          f"{r['peak_memory_mib']:.0f} MiB")
    print(f"[device_check] attention: {r['attention']}; kernels seen: "
          f"{', '.join(r['attention_kernels']) or 'none'}")
    if 'graph_breaks' in r:
        print(f"[device_check] torch.compile: {r['graph_breaks']} graph breaks "
              f"{r['graph_break_reasons'] or ''}")
    print(f"[device_check] {r['compared']} vs fp32 CPU: cosine {r['cosine']:.6f} "
          f"(need >= {r['cosine_min']}), max abs diff {r['max_abs_diff']:.3g}")
    print(f"[device_check] {'OK' if r['ok'] else 'FAILED'}")


def main(argv=None):
    args = parse_args(argv)
    if args.batch < 1 or args.steps < 1:
        print('device_check: --batch and --steps must be >= 1', file=sys.stderr)
        return 2
    quiet_logs()
    report = run_check(args)
    print_report(report)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=1)
    return 0 if report['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
