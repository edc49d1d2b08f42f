"""Throughput and peak memory of a config's model (or backbone), as a ratio to a baseline.

    python tools/analysis/benchmark.py CONFIG [--baseline CONFIG2] [options]

    # Fast-iTPN-B backbone at 512x512, batch 1, several settings against the plain model:
    python tools/analysis/benchmark.py configs/fast_itpn/fast-itpn-b_8xb128_in1k.py \\
        --part backbone --input-size 512 --batch-size 1 --no-train \\
        --variant mig40 model.backbone.migration_ratio=0.4 model.backbone.window_size=8 \\
        --variant gather model.backbone.attn_mode=gathering model.backbone.window_size=8

    # the issue-9 table: HVT models against mmpretrain's Swin-T, 2 threads, fp32, 224
    python tools/analysis/benchmark.py configs/vitaev2/vitaev2-s_8xb128_in1k.py \
        --compare configs/dualvit/dualvit-s_8xb128_in1k.py \
                  configs/itpn/itpn-hivit-b-p16_pixel-pre_8xb128-coslr-100e_in1k.py \
                  configs/fast_itpn/fast-itpn-s_8xb128_in1k.py configs/fast_itpn/fast-itpn-b_8xb128_in1k.py \
        --baseline mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py --threads 2 --out bench.json

What is measured (every model in one process, interleaved round by round so that machine noise
hits all of them alike; ratios are the figure to read, absolute numbers vary between runs):

* inference: ``--batch-size`` (16) images per forward, no grad, eval mode; ``--warmup``
  untimed iterations, then the median of ``--iters`` timed ones;
* train step: ``--train-batch-size`` (8) images: forward, loss, backward, optimizer step
  (a classifier's real loss on random labels; for a backbone the mean square of its outputs);
* ``--timer cpu`` times the process CPU time instead of the elapsed time (for shared, busy
  machines; with ``--threads 1`` it measures the work, not the scheduler);
* the heap: glibc keeps freed memory for reuse (:func:`steady_heap`), so that a model is not
  charged for page faults on memory the model before it returned to the OS; ``--default-malloc``
  keeps glibc's defaults;
* peak memory, in one extra untimed iteration per model after the timed ones (so the sampling
  does not slow the timings): resident set size on the CPU (sampled every 2 ms, minus the RSS
  before the iteration), ``torch.cuda.max_memory_allocated`` (minus the allocation before the
  iteration) on a GPU.

``--part``: ``model`` (the whole classifier, inputs of the data preprocessor's output kind),
``backbone`` (``cfg.model.backbone`` alone) or ``auto`` (model for classifiers, else backbone).
``--variant NAME KEY=VAL ...`` adds the same config with more overrides, ``--compare CONFIG ...``
adds other configs; with no ``--baseline`` they are all compared with the main config. Results go to stdout as a table and, with ``--out``,
to JSON. A progress line per timed iteration goes to stderr.
"""
import argparse
import ctypes
import datetime
import gc
import json
import os
import os.path as osp
import platform
import statistics
import sys
import threading
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

import hvt  # noqa: E402,F401  (before any config: hvt:: bases, e.g. the custom templates)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Benchmark throughput and peak memory')
    p.add_argument('config')
    p.add_argument('--baseline', help='config measured in the same run as the reference')
    p.add_argument('--compare', nargs='+', default=[], metavar='CONFIG',
                   help='more configs measured in the same run (each against the baseline)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='overrides for CONFIG')
    p.add_argument('--baseline-cfg-options', nargs='+', action=DictAction, default={},
                   help='overrides for the baseline config')
    p.add_argument('--variant', nargs='+', action='append', default=[], metavar='NAME KEY=VAL',
                   help='another model: CONFIG with --cfg-options and these overrides')
    p.add_argument('--part', choices=('auto', 'model', 'backbone'), default='auto')
    p.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    p.add_argument('--threads', type=int, help='torch.set_num_threads (CPU)')
    p.add_argument('--amp', action='store_true', help='bf16 autocast (CPU or GPU)')
    p.add_argument('--channels-last', action='store_true')
    p.add_argument('--compile', action='store_true', help='torch.compile the models')
    p.add_argument('--input-size', type=int, nargs='+', default=[224], help='H [W]')
    p.add_argument('--batch-size', type=int, default=16, help='inference batch')
    p.add_argument('--train-batch-size', type=int, default=8, help='train-step batch')
    p.add_argument('--iters', type=int, default=5, help='timed iterations per model')
    p.add_argument('--warmup', type=int, default=2, help='untimed iterations per model')
    p.add_argument('--optimizer', choices=('adamw', 'sgd'), default='adamw')
    p.add_argument('--timer', choices=('wall', 'cpu'), default='wall',
                   help='wall: elapsed time; cpu: CPU time of this process (all threads), which '
                   'stays meaningful when other jobs share the cores (use with --threads 1)')
    p.add_argument('--default-malloc', action='store_true',
                   help="keep glibc's default heap settings (see steady_heap)")
    p.add_argument('--no-train', action='store_true', help='skip the train step')
    p.add_argument('--no-infer', action='store_true', help='skip inference')
    p.add_argument('--out', help='write the results as JSON here')
    return p.parse_args(argv)


# -- memory -------------------------------------------------------------------------------------
_PAGE = os.sysconf('SC_PAGE_SIZE') if hasattr(os, 'sysconf') else 4096


def _rss_bytes():
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:  # not Linux: lifetime peak (coarse)
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _libc():
    # malloc_trim before a memory pass returns freed heap memory to the OS, so the RSS rise during
    # the pass is what that step allocates. (Fixing M_MMAP_THRESHOLD low instead would make every
    # large tensor a fresh mmap and distort the timings with page faults.)
    try:
        return ctypes.CDLL('libc.so.6')
    except OSError:
        return None


_LIBC = _libc()

# glibc mallopt parameters
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def steady_heap():
    """Keep freed memory in the heap for reuse, so that every model is timed in its steady state.

    Models are measured interleaved in one process. With glibc's defaults, memory that one model
    frees at the top of the heap goes back to the OS and the next model page-faults it in again,
    and tensors above the (dynamic) mmap threshold are fresh mmaps: how much of that a model pays
    depended on which model ran before it (Fast-iTPN-B's train step took 4.1 s alone and 4.7-5.9 s
    interleaved). Serving allocations up to 32 MiB (glibc's maximum threshold) from the heap and
    trimming only above 1 GiB removes that order effect; a training run, which holds one model,
    sits in this steady state anyway. Returns True if glibc took both settings.
    """
    if _LIBC is None or not hasattr(_LIBC, 'mallopt'):
        return False
    ok = _LIBC.mallopt(_M_MMAP_THRESHOLD, 32 * 2**20) == 1
    return _LIBC.mallopt(_M_TRIM_THRESHOLD, 2**30) == 1 and ok


class PeakRSS:
    """Samples the RSS in a thread while the block runs (torch releases the GIL in its ops)."""

    def __init__(self, interval=0.002):
        self.interval = interval

    def __enter__(self):
        gc.collect()
        if _LIBC is not None:
            _LIBC.malloc_trim(0)
        self.start = self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


# -- models -------------------------------------------------------------------------------------
def resolve_config_path(path):
    """``PACKAGE::REL`` (e.g. ``mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py``) is a config
    shipped inside an installed OpenMMLab package."""
    if '::' in path:
        from mmengine.utils import get_installed_path
        package, rel = path.split('::', 1)
        path = osp.join(get_installed_path(package), '.mim', 'configs', rel)
    return path


def load_cfg(path, options):
    path = resolve_config_path(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path!r}')
    # custom imports one by one: only model registries matter here, so a broken optional
    # module (an engine hook, say) costs a warning instead of the benchmark
    cfg = Config.fromfile(path, import_custom_modules=False)
    import importlib
    for mod in cfg.get('custom_imports', {}).get('imports', []):
        try:
            importlib.import_module(mod)
        except Exception as e:  # noqa: BLE001
            print(f'[bench] warning: custom import {mod!r} failed: {e}', file=sys.stderr)
    if options:
        cfg.merge_from_dict(options)
    from hvt.engine.cli import follow_backbone_channels
    follow_backbone_channels(cfg)  # a variant's arch brings its head width
    return cfg


def _variant_options(tokens):
    name, pairs = tokens[0], tokens[1:]
    opts = {}
    for pair in pairs:
        if '=' not in pair:
            raise ValueError(f'--variant {name}: {pair!r} is not KEY=VALUE')
        k, v = pair.split('=', 1)
        opts[k] = DictAction._parse_iterable(v)
    return name, opts


def is_classifier(cfg):
    return 'Classifier' in str(cfg.model.get('type', ''))


def build(cfg, part):
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    import hvt.models  # noqa: F401  (registers scope hvt)
    if part == 'auto':
        part = 'model' if is_classifier(cfg) else 'backbone'
    model = MODELS.build(cfg.model.backbone if part == 'backbone' else cfg.model)
    return model, part


def _flat_tensors(out):
    if torch.is_tensor(out):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _flat_tensors(o)]
    return []


class Entry:

    def __init__(self, name, cfg, args):
        self.name = name
        self.args = args
        self.model, self.part = build(cfg, args.part)
        self.classifier = self.part == 'model' and is_classifier(cfg)
        self.num_classes = int(cfg.model.get('head', {}).get('num_classes', 1000) or 1000)
        dev = torch.device(args.device)
        self.model.to(dev)
        if args.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.fn = self.model
        if args.compile:
            try:
                self.fn = torch.compile(self.model)
            except Exception as e:  # noqa: BLE001  (compile is best effort)
                print(f'[bench] {name}: torch.compile failed ({e}); eager', file=sys.stderr)
        self.params = sum(p.numel() for p in self.model.parameters())
        self.opt = None
        self.res = {}

    def _autocast(self):
        return torch.autocast(self.args.device, dtype=torch.bfloat16, enabled=self.args.amp)

    def forward(self, x):
        if self.classifier:
            return self.fn(x, mode='tensor')
        return self.fn(x)

    def infer_step(self, x):
        self.model.eval()
        with torch.no_grad(), self._autocast():
            self.forward(x)

    def train_step(self, x):
        self.model.train()
        if self.opt is None:
            params = [p for p in self.model.parameters() if p.requires_grad]
            self.opt = (torch.optim.AdamW(params, lr=1e-6) if self.args.optimizer == 'adamw'
                        else torch.optim.SGD(params, lr=1e-6))
        with self._autocast():
            if self.classifier:
                from mmpretrain.structures import DataSample
                samples = [DataSample().set_gt_label(i % self.num_classes)
                           for i in range(x.shape[0])]
                losses = self.fn(x, samples, mode='loss')  # compiled too under --compile
                loss = sum(v for k, v in losses.items() if 'loss' in k)
            else:
                loss = sum(t.float().square().mean() for t in _flat_tensors(self.forward(x)))
        loss.backward()
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)


def _sync(device):
    if device == 'cuda':
        torch.cuda.synchronize()


def measure(entries, kind, x, args):
    step = 'infer_step' if kind == 'infer' else 'train_step'
    for e in entries:
        for i in range(args.warmup):
            getattr(e, step)(x)
            print(f'[bench] {kind} warm-up {i + 1}/{args.warmup}: {e.name}', file=sys.stderr)
        e.res[kind] = dict(batch=x.shape[0], times=[], mem=[])
    for it in range(args.iters):
        order = entries[it % len(entries):] + entries[:it % len(entries)]
        for e in order:
            _sync(args.device)
            clock = time.process_time if args.timer == 'cpu' else time.perf_counter
            t0 = clock()
            getattr(e, step)(x)
            _sync(args.device)
            dt = clock() - t0
            e.res[kind]['times'].append(dt)
            print(f'[bench] {kind} {it + 1}/{args.iters}: {e.name} {dt:.3f}s', file=sys.stderr)
    for e in entries:  # one more, untimed step each for the peak memory
        if args.device == 'cuda':
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            getattr(e, step)(x)
            _sync(args.device)
            mem = torch.cuda.max_memory_allocated() - before
        else:
            with PeakRSS() as pr:
                getattr(e, step)(x)
            mem = pr.peak - pr.start
        e.res[kind]['mem'].append(mem)
        print(f'[bench] {kind} memory: {e.name} {mem / 2**20:.0f} MiB', file=sys.stderr)
    for e in entries:
        r = e.res[kind]
        r['median_s'] = statistics.median(r['times'])
        r['img_per_s'] = r['batch'] / r['median_s']
        r['peak_mem_mib'] = max(r['mem']) / 2**20


def main(argv=None):
    args = parse_args(argv)
    heap = 'glibc default'
    if args.device == 'cpu' and not args.default_malloc and steady_heap():
        heap = 'steady (mmap threshold 32 MiB, trim threshold 1 GiB)'
    print(f'[bench] heap: {heap}', file=sys.stderr)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda: no GPU visible')
    H = args.input_size[0]
    W = args.input_size[1] if len(args.input_size) > 1 else H

    main_cfg = load_cfg(args.config, args.cfg_options)
    entries = [Entry(osp.splitext(osp.basename(args.config))[0], main_cfg, args)]
    for tokens in args.variant:
        name, opts = _variant_options(tokens)
        cfg = load_cfg(args.config, dict(args.cfg_options or {}, **opts))
        entries.append(Entry(name, cfg, args))
    for path in args.compare:
        entries.append(Entry(osp.splitext(osp.basename(path))[0], load_cfg(path, {}), args))
    ref = None
    if args.baseline:
        ref = Entry('baseline:' + osp.splitext(osp.basename(args.baseline))[0],
                    load_cfg(args.baseline, args.baseline_cfg_options), args)
        entries.append(ref)
    elif len(entries) > 1:
        ref = entries[0]

    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    kinds = ([] if args.no_infer else ['infer']) + ([] if args.no_train else ['train'])
    for kind in kinds:
        bs = args.batch_size if kind == 'infer' else args.train_batch_size
        x = torch.randn(bs, 3, H, W, device=args.device).contiguous(memory_format=fmt)
        measure(entries, kind, x, args)

    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if 'model name' in line)
    except (OSError, StopIteration):
        pass
    report = dict(
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        command=' '.join(sys.argv), torch=torch.__version__, device=args.device, cpu=cpu,
        threads=torch.get_num_threads(), amp=args.amp, channels_last=args.channels_last,
        compile=args.compile, input_size=[H, W], timer=args.timer, heap=heap,
        reference=ref.name if ref else None,
        models=[])
    head = f'{"model":28s} {"params":>9s}'
    for kind in kinds:
        head += f' | {kind + " img/s":>11s} {"x ref":>6s} {"mem MiB":>8s} {"x ref":>6s}'
    print(f'input {H}x{W}, device {args.device}, threads {torch.get_num_threads()}, '
          f'timer {args.timer}, '
          f'amp {args.amp}, channels_last {args.channels_last}, compile {args.compile}')
    print(head)
    for e in entries:
        row = f'{e.name[:28]:28s} {e.params / 1e6:8.2f}M'
        item = dict(name=e.name, part=e.part, params=e.params)
        for kind in kinds:
            r = e.res[kind]
            sp = r['img_per_s'] / ref.res[kind]['img_per_s'] if ref else None
            mr = (r['peak_mem_mib'] / ref.res[kind]['peak_mem_mib']
                  if ref and ref.res[kind]['peak_mem_mib'] > 0 else None)
            r.update(speed_ratio=sp, mem_ratio=mr)
            row += (f' | {r["img_per_s"]:11.3f} {sp if sp else float("nan"):6.2f} '
                    f'{r["peak_mem_mib"]:8.0f} {mr if mr else float("nan"):6.2f}')
            item[kind] = {k: v for k, v in r.items() if k != 'mem'}
            item[kind]['mem_mib'] = [m / 2**20 for m in r['mem']]
        print(row)
        report['models'].append(item)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=1)
        print(f'results written to {args.out}')
    return report


if __name__ == '__main__':
    main()
