"""Images that exist but cannot be decoded: list them all up front, or name the first one clearly.

* ``tools/train.py CONFIG --check-images`` (and ``tools/test.py``) decodes every image (and mmseg
  label map) of every dataset in the config once, in a process pool as wide as the available CPUs,
  with the decoder and flags of the pipeline's ``LoadImageFromFile`` / ``LoadAnnotations``
  (``mmcv.imfrombytes``: cv2 or pillow), then lists every file that fails with the decoder's
  error (:func:`run_image_check`). The image lists are the datasets' own (``data_list`` of the
  built dataset, so folder scanning, COCO parsing, ``indices`` and filters are the real ones).
* Without the flag, :func:`name_failing_images` makes mmcv's loading transforms raise
  :class:`ImageDecodeError` with the file's path (pillow's own errors do not name it), and
  :func:`image_failure_line` finds that message in the exception the Runner raises (also when it
  comes from a DataLoader worker, as text), so the tools can end with one line naming the file.
"""
import re
import sys
import time

# 'cannot decode image <repr of the path> (<reason>)' in an exception message (maybe inside a
# DataLoader worker's traceback text)
_FAILURE = re.compile(r"cannot (decode|read) image ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\") "
                      r'\((.*)\)')
_MMCV_FAILURE = re.compile(r'failed to load image: (\S.*)$', re.M)  # mmcv's own assertion


class ImageDecodeError(Exception):
    """An image (or label map) that could not be read or decoded; the message names the file."""


def _describe(path, error) -> str:
    verb = 'read' if isinstance(error, (FileNotFoundError, PermissionError,
                                        IsADirectoryError)) else 'decode'
    return f'cannot {verb} image {path!r} ({type(error).__name__}: {error})'


def _naming(original, path_key):
    def transform(self, results):
        try:
            out = original(self, results)
        except ImageDecodeError:
            raise
        except Exception as e:  # noqa: BLE001  (decoder errors, and mmcv's "failed to load")
            path = results.get(path_key) if isinstance(results, dict) else None
            if path is None:
                raise
            if isinstance(e, AssertionError) and str(e).startswith('failed to load image'):
                backend = getattr(self, 'imdecode_backend', 'the decoder')
                raise ImageDecodeError(
                    f'cannot decode image {path!r} ({backend} could not decode it)') from e
            raise ImageDecodeError(_describe(path, e)) from e
        return out
    transform._hvt_naming = True
    return transform


def name_failing_images() -> None:
    """Make mmcv's ``LoadImageFromFile`` and ``LoadAnnotations`` (and the subclasses that call
    them: mmpose's ``LoadImage``, mmseg's ``LoadAnnotations``) raise :class:`ImageDecodeError`
    naming the file. Idempotent; DataLoader workers (forked, mmengine's default) inherit it."""
    from mmcv.transforms import loading
    for cls, key in ((loading.LoadImageFromFile, 'img_path'),
                     (loading.LoadAnnotations, 'seg_map_path')):
        if not getattr(cls.transform, '_hvt_naming', False):
            cls.transform = _naming(cls.transform, key)


def image_failure_line(error: BaseException, hint: str) -> str:
    """``error: cannot decode image '<path>' (<reason>); <hint>`` if ``error`` (or its cause /
    context) is a failed image load, else None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        text = str(error)
        found = _FAILURE.search(text)
        if found:
            verb, path, reason = found.groups()
            return f'error: cannot {verb} image {path} ({reason}); {hint}'
        found = _MMCV_FAILURE.search(text)
        if found:
            return (f'error: cannot decode image {found.group(1).strip()!r} (the decoder '
                    f'returned nothing); {hint}')
        error = error.__cause__ or error.__context__
    return None


def run_naming_images(fn, tool: str, config: str):
    """``fn()``; a failed image load inside it ends the process with the one line of
    :func:`image_failure_line` on stderr (exit code 1) instead of a data-loader traceback."""
    try:
        return fn()
    except Exception as e:
        line = image_failure_line(e, tool_hint(tool, config))
        if line is None:
            raise
        sys.stdout.flush()
        raise SystemExit(line) from None


# -- --check-images -------------------------------------------------------------------------------
def _decoders(ds: dict):
    """(backend, flag) for images and for label maps, as the dataset's pipeline loads them."""
    img, seg = ('cv2', 'color'), ('pillow', 'unchanged')
    for step in ds.get('pipeline') or []:
        kind = str(step.get('type', '')).split('.')[-1] if isinstance(step, dict) else ''
        if kind in ('LoadImageFromFile', 'LoadImage'):
            img = (step.get('imdecode_backend', 'cv2'), step.get('color_type', 'color'))
        elif kind == 'LoadAnnotations' and 'imdecode_backend' in step:
            seg = (step['imdecode_backend'], 'unchanged')
    return img, seg


def image_jobs(cfg, loaders) -> list:
    """``(path, backend, flag)`` of every image and label map the datasets of ``loaders`` read,
    each path once. Builds each (unwrapped) dataset without its pipeline."""
    import copy

    from mmengine.registry import DATASETS, init_default_scope

    import hvt  # noqa: F401  (hvt.* types)
    from .cli import _datasets
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    jobs, seen = [], set()
    for loader in loaders:
        if not isinstance(cfg.get(loader), dict):
            continue
        for key, ds in _datasets(cfg[loader].get('dataset'), f'{loader}.dataset'):
            if isinstance(ds.get('dataset'), dict) or ds.get('datasets'):
                continue  # a wrapper: its datasets come next
            (img_backend, img_flag), (seg_backend, seg_flag) = _decoders(ds)
            built = copy.deepcopy(ds)
            built['pipeline'] = []
            dataset = DATASETS.build(built)
            dataset.full_init()
            for i in range(len(dataset)):
                info = dataset.get_data_info(i)
                for path_key, backend, flag in (('img_path', img_backend, img_flag),
                                                ('seg_map_path', seg_backend, seg_flag)):
                    path = info.get(path_key)
                    if isinstance(path, str) and path not in seen:
                        seen.add(path)
                        jobs.append((path, backend, flag))
    return jobs


def decode(job):
    """``(path, None)`` if the file decodes, else ``(path, reason)`` (runs in the pool)."""
    path, backend, flag = job
    try:
        import mmcv
        from mmengine import fileio
        img = mmcv.imfrombytes(fileio.get(path), flag=flag, backend=backend)
        if img is None:
            return path, f'{backend} could not decode it'
        if getattr(img, 'size', 1) == 0:
            return path, 'decoded to an empty image'
    except Exception as e:  # noqa: BLE001  (any failure is the answer)
        return path, f'{type(e).__name__}: {e}'
    return path, None


def decode_all(jobs, workers: int = None, progress: bool = True) -> list:
    """Decode every job in a process pool; ``[(path, reason)]`` of the failures, in job order."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    from .cli import available_cpus
    workers = max(1, min(workers or available_cpus(), len(jobs) or 1))
    chunk = max(1, min(256, len(jobs) // (workers * 16)))
    bad = []
    with tqdm(total=len(jobs), desc='[hvt] decoding images', unit='img', file=sys.stderr,
              disable=not progress, mininterval=1.0) as bar:
        if workers == 1:
            results = map(decode, jobs)
            pool = None
        else:
            pool = ProcessPoolExecutor(max_workers=workers)
            results = pool.map(decode, jobs, chunksize=chunk)
        try:
            for path, reason in results:
                bar.update()
                if reason is not None:
                    bad.append((path, reason))
        finally:
            if pool is not None:
                pool.shutdown()
    return bad


def run_image_check(cfg, loaders=('train_dataloader', 'val_dataloader', 'test_dataloader'),
                    workers: int = None) -> int:
    """``--check-images``: decode every image of ``loaders``' datasets; print a summary and every
    corrupt file (path and decoder error). Returns the number of corrupt files. In a distributed
    run rank 0 checks and every rank returns its count."""
    from mmengine.dist import broadcast_object_list, get_rank, is_distributed
    count = [0]
    if not is_distributed() or get_rank() == 0:
        t0 = time.time()
        jobs = image_jobs(cfg, loaders)
        bad = decode_all(jobs, workers)
        took = time.time() - t0
        sys.stdout.flush()
        if bad:
            lines = '\n'.join(f'  {path!r}: {reason}' for path, reason in bad)
            print(f'error: {len(bad)} of {len(jobs)} images cannot be decoded '
                  f'(--check-images, {took:.1f} s):\n{lines}', file=sys.stderr, flush=True)
        else:
            print(f'[hvt] --check-images: all {len(jobs)} images decode ({took:.1f} s)',
                  flush=True)
        count[0] = len(bad)
    if is_distributed():
        broadcast_object_list(count, src=0)
    return count[0]


def tool_hint(tool: str, config: str) -> str:
    """What the one-line failure tells the user to run next."""
    rest = ' CHECKPOINT' if tool == 'test.py' else ''
    return f'run tools/{tool} {config}{rest} --check-images to list every corrupt file'

