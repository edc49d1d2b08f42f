"""Time the pre-flight image check (``hvt/engine/data_check.py``) on full-size annotation files.

Builds, in a temporary folder, an ImageNet-style list (default 1,281,167 lines over 1000 class
folders) and a COCO-style JSON (default 118,287 images, 860,001 annotations with a small polygon
each) over empty image files, then times ``check_dataset_images`` on each and prints the total and
the time per entry::

    python tools/analysis/benchmark_data_check.py                       # full size
    python tools/analysis/benchmark_data_check.py --imagenet 100000 --coco-images 10000
    git show HEAD~1:hvt/engine/data_check.py > /tmp/old.py
    python tools/analysis/benchmark_data_check.py --module /tmp/old.py --module hvt --repeat 3

``--module`` (repeatable) times a ``data_check.py`` from a file (e.g. an older one from
``git show``), or ``hvt`` for the installed ``hvt.engine.data_check`` (the default), all on the same
files; ``--repeat R`` keeps the fastest of R runs (for busy machines). Creating 1.28 M files
takes a while; ``--imagenet N`` / ``--coco-images N`` scale down (the annotation count follows
COCO's 7.27 per image unless ``--coco-anns`` is given). ``--missing`` deletes the first image of
each set, so the timing includes building the error. The times are with the file system caches
warm (the files were just made); ``cpu s`` (user + system time of the process) is the measure to
trust on a shared, busy machine.
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import shutil
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

COCO_ANNS_PER_IMAGE = 860001 / 118287


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--imagenet', type=int, default=1281167, help='lines of the ImageNet list')
    p.add_argument('--classes', type=int, default=1000, help='ImageNet class folders')
    p.add_argument('--coco-images', type=int, default=118287, help='images of the COCO JSON')
    p.add_argument('--coco-anns', type=int, default=None,
                   help='annotations of the COCO JSON (default: 7.27 per image)')
    p.add_argument('--missing', action='store_true',
                   help='delete the first image of each set (the check must name it)')
    p.add_argument('--module', action='append',
                   help='a data_check.py to time, or "hvt" (default) for hvt.engine.data_check')
    p.add_argument('--repeat', type=int, default=1, help='runs per check; the fastest counts')
    p.add_argument('--workdir', help='build the data here (default: a temporary folder, deleted)')
    p.add_argument('--reuse', action='store_true',
                   help='time the data an earlier run left in --workdir (same sizes) again')
    p.add_argument('--out', help='write the results as JSON')
    return p.parse_args(argv)


def load_module(path):
    if path == 'hvt':
        from hvt.engine import data_check
        return data_check
    spec = importlib.util.spec_from_file_location('data_check_under_test', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _touch(path):
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def make_imagenet(root, n, classes, build=True):
    """``train/<class>/<n>.JPEG`` empty files and ``meta/train.txt`` listing them."""
    folders = [f'n{c:08d}' for c in range(classes)]
    ds = dict(type='ImageNet', data_root=root, ann_file='meta/train.txt', data_prefix='train')
    if not build:
        return ds, f'train/{folders[0]}/{folders[0]}_0.JPEG'
    for f in folders:
        os.makedirs(osp.join(root, 'train', f), exist_ok=True)
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    with open(osp.join(root, 'meta', 'train.txt'), 'w') as out:
        for i in range(n):
            c = i % classes
            name = f'{folders[c]}/{folders[c]}_{i}.JPEG'
            _touch(osp.join(root, 'train', name))
            out.write(f'{name} {c}\n')
    return ds, f'train/{folders[0]}/{folders[0]}_0.JPEG'


def make_coco(root, n_images, n_anns, build=True):
    """``train2017/<id>.jpg`` empty files and ``annotations/instances_train2017.json``."""
    ds = dict(type='CocoDataset', data_root=root, ann_file='annotations/instances_train2017.json',
              data_prefix=dict(img='train2017/'))
    if not build:
        return ds, f'train2017/{1:012d}.jpg'
    os.makedirs(osp.join(root, 'train2017'), exist_ok=True)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    images = []
    for i in range(1, n_images + 1):
        name = f'{i:012d}.jpg'
        _touch(osp.join(root, 'train2017', name))
        images.append(dict(id=i, file_name=name, width=640, height=480))
    anns = [dict(id=j, image_id=1 + j % n_images, category_id=1 + j % 80, iscrowd=0,
                 bbox=[10.0, 20.0, 30.0, 40.0], area=1200.0,
                 segmentation=[[10.0, 20.0, 40.0, 20.0, 40.0, 60.0, 10.0, 60.0]])
            for j in range(1, n_anns + 1)]
    ann = osp.join(root, 'annotations', 'instances_train2017.json')
    with open(ann, 'w') as f:
        json.dump(dict(images=images, annotations=anns,
                       categories=[dict(id=c, name=f'c{c}') for c in range(1, 81)]), f)
    return ds, f'train2017/{1:012d}.jpg'


def time_check(module, key, ds):
    """Elapsed and CPU (user + system) seconds of one ``check_dataset_images`` call, and the
    error it raised (or None)."""
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        module.check_dataset_images(key, ds)
        error = None
    except FileNotFoundError as e:
        error = str(e)
    return time.perf_counter() - t0, time.process_time() - c0, error


def main(argv=None):
    args = parse_args(argv)
    modules = {m: load_module(m) for m in args.module or ['hvt']}
    workdir = args.workdir or tempfile.mkdtemp(prefix='hvt_data_check_')
    results = dict(repeat=args.repeat, sets=[])
    try:
        sets = []
        if args.imagenet:
            t0 = time.perf_counter()
            ds, first = make_imagenet(osp.join(workdir, 'imagenet'), args.imagenet, args.classes,
                                      not args.reuse)
            sets.append(('imagenet', args.imagenet, ds, first, time.perf_counter() - t0))
        if args.coco_images:
            n_anns = args.coco_anns if args.coco_anns is not None else round(
                args.coco_images * COCO_ANNS_PER_IMAGE)
            t0 = time.perf_counter()
            ds, first = make_coco(osp.join(workdir, 'coco'), args.coco_images, n_anns,
                                  not args.reuse)
            sets.append((f'coco ({n_anns} annotations)', args.coco_images, ds, first,
                         time.perf_counter() - t0))
        print(f'{"set":30s} {"module":>24s} {"entries":>9s} {"build s":>8s} {"check s":>8s} '
              f'{"us/entry":>9s} {"cpu s":>7s}')
        for name, n, ds, first, build_s in sets:
            if args.missing:
                os.remove(osp.join(ds['data_root'], first))
            for label, module in modules.items():
                runs = [time_check(module, f'{name}.dataset', ds) for _ in range(args.repeat)]
                seconds, cpu_s, error = min(runs)
                if (error is None) == args.missing or (error and first not in error):
                    raise SystemExit(f'{name}: unexpected check result: {error!r}')
                per = seconds / n * 1e6
                print(f'{name:30s} {label[-24:]:>24s} {n:9d} {build_s:8.1f} {seconds:8.2f} '
                      f'{per:9.2f} {cpu_s:7.2f}')
                results['sets'].append(dict(name=name, module=label, entries=n, build_s=build_s,
                                            check_s=seconds, cpu_s=cpu_s, us_per_entry=per,
                                            error=error))
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == '__main__':
    main()
