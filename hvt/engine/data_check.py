"""Pre-flight check that every image an annotation file refers to exists.

Without it, a missing image surfaces as an exception inside a data-loader worker, possibly hours
into a run and without the annotation that referred to it. :func:`check_image_files` runs in
``tools/train.py`` / ``tools/test.py`` (through ``cli.check_data_paths``) before the Runner is
built, and understands

* COCO-style JSON (mmdet ``CocoDataset``, mmpose ``AP10KDataset`` and other COCO-format
  datasets): every ``images[].file_name`` under ``data_prefix['img']``; the error names the image
  id and the annotation ids that use it;
* ImageNet-style list files (mmpretrain ``ImageNet`` / ``CustomDataset`` with ``ann_file``):
  ``<file> <label>`` lines under ``data_prefix['img_path']``; the error names the line number;
* mmseg datasets: every image (all of ``img_path``, or those of a split file) must exist and
  folder datasets need a label map in ``seg_map_path`` for every image.

Folder datasets without an annotation file list only images that exist, so they need no check.
Remote paths (``s3://...``) are skipped. ``check_image_files=False`` at the top level of a config
turns the check off.

At full scale (1.28 M ImageNet lines, COCO's 118 k images): every directory is listed once
(``os.scandir``) instead of one ``stat`` per file, each annotation file is read once per
:func:`check_datasets` call (val and test often share one), and in a distributed run only rank 0
checks and broadcasts its verdict (timings: docs/reliability.md,
``tools/analysis/benchmark_data_check.py``).
"""
import json
import os
import os.path as osp

SHOW = 5  # missing files named in an error


class FileIndex:
    """``isfile`` answered from one ``os.scandir`` listing per directory.

    Same meaning as ``os.path.isfile`` (a regular file, or a link to one): ``DirEntry.is_file``
    needs no extra system call except for links and file systems that do not report file types.
    """

    def __init__(self):
        self._names = {}
        self._under = {}  # folder -> {sub-folder: names}, for :meth:`has`

    def names(self, directory: str) -> frozenset:
        names = self._names.get(directory)
        if names is None:
            try:
                with os.scandir(directory or '.') as entries:
                    names = frozenset(e.name for e in entries if e.is_file())
            except OSError:  # missing, not a directory, unreadable
                names = frozenset()
            self._names[directory] = names
        return names

    def isfile(self, path: str) -> bool:
        directory, name = osp.split(path)
        return name in self.names(directory)

    def has(self, folder: str, rel: str) -> bool:
        """``isfile(osp.join(folder, rel))`` without building the path (the hot loop)."""
        sub, _, name = rel.rpartition('/')
        try:
            return name in self._under[folder][sub]
        except KeyError:
            names = self.names(osp.join(folder, sub) if sub else folder)
            self._under.setdefault(folder, {})[sub] = names
            return name in names


def _prefixes(ds: dict) -> dict:
    """``data_prefix`` joined with ``data_root`` the way mmengine's BaseDataset does."""
    root = ds.get('data_root') or ''
    prefix = ds.get('data_prefix', '')
    if isinstance(prefix, str):  # mmpretrain accepts a plain string for the image folder
        prefix = dict(img_path=prefix)
    return {k: (v if osp.isabs(v) or not root else osp.join(root, v))
            for k, v in (prefix or {}).items() if isinstance(v, str)}


def _ann_path(ds: dict) -> str:
    ann, root = ds.get('ann_file') or '', ds.get('data_root') or ''
    return ann if not ann or osp.isabs(ann) or not root else osp.join(root, ann)


def _fail(key, ann, missing, total, describe):
    shown = '\n'.join(f'  {describe(m)}' for m in missing[:SHOW])
    more = f'\n  ... and {len(missing) - SHOW} more' if len(missing) > SHOW else ''
    raise FileNotFoundError(
        f'{key}: {len(missing)} of {total} images referenced by {ann!r} do not exist:\n'
        f'{shown}{more}\nRestore the files, remove their entries from the annotation file, or '
        f'fix {key}.data_root / {key}.data_prefix (set check_image_files=False to skip this '
        'check).')


def check_coco(key: str, ann: str, img_dir: str, content: dict, index: FileIndex = None) -> None:
    index = index or FileIndex()
    images = content.get('images', [])
    missing, users = [], {}  # users: annotation ids of the missing images only
    for img in images:
        if not index.has(img_dir, img['file_name']):
            missing.append((osp.join(img_dir, img['file_name']), img.get('id')))
            users[img.get('id')] = []
    if missing:
        for a in content.get('annotations', []):
            if a.get('image_id') in users:
                users[a.get('image_id')].append(a.get('id'))
        _fail(key, ann, missing, len(images),
              lambda m: f'{m[0]!r} (image id {m[1]}, used by annotation ids {users[m[1]][:10]}'
                        + (' ...)' if len(users[m[1]]) > 10 else ')'))


def check_list_file(key: str, ann: str, img_dir: str, suffix: str = '',
                    index: FileIndex = None) -> None:
    """``<file> [<label>]`` lines (mmpretrain) or, with ``suffix``, image basenames (mmseg)."""
    index = index or FileIndex()
    missing, total = [], 0
    with open(ann) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            total += 1
            name, space, label = line.rpartition(' ')
            if suffix or not space or not label.lstrip('-').isdigit():
                name = line
            if not index.has(img_dir, name + suffix):
                missing.append((osp.join(img_dir, name + suffix), lineno))
    if missing:
        _fail(key, ann, missing, total, lambda m: f'{m[0]!r} (line {m[1]})')


def seg_suffixes(ds: dict):
    """``(img_suffix, seg_map_suffix)`` of an mmseg dataset config: the config's values, else the
    dataset class's defaults (``None`` for a suffix that cannot be determined)."""
    out = {'img_suffix': ds.get('img_suffix'), 'seg_map_suffix': ds.get('seg_map_suffix')}
    if None in out.values():
        try:
            import inspect
            from mmseg.registry import DATASETS
            params = inspect.signature(DATASETS.get(ds['type']).__init__).parameters
        except Exception:  # noqa: BLE001  (not an mmseg dataset, or mmseg missing)
            params = {}
        for k, v in out.items():
            if v is None and k in params and isinstance(params[k].default, str):
                out[k] = params[k].default
    return out['img_suffix'], out['seg_map_suffix']


def check_seg_folder(key: str, ds: dict, prefixes: dict, index: FileIndex = None) -> None:
    img_dir, seg_dir = prefixes.get('img_path'), prefixes.get('seg_map_path')
    if not (img_dir and seg_dir) or not osp.isdir(img_dir):
        return
    img_suffix, seg_suffix = seg_suffixes(ds)
    if not (img_suffix and seg_suffix):
        return
    index = index or FileIndex()
    missing, total = [], 0
    for dirpath, _, files in os.walk(img_dir):
        for name in files:
            if not name.endswith(img_suffix):
                continue
            total += 1
            rel = osp.relpath(osp.join(dirpath, name), img_dir)
            seg = osp.join(seg_dir, rel[:-len(img_suffix)] + seg_suffix)
            if not index.isfile(seg):
                missing.append((seg, osp.join(img_dir, rel)))
    if missing:
        _fail(key, img_dir, missing, total, lambda m: f'label map {m[0]!r} (of image {m[1]!r})')


def check_dataset_images(key: str, ds: dict, index: FileIndex = None, done: set = None) -> None:
    """Check one dataset config (not its wrapped datasets); see the module docstring.

    ``index`` / ``done`` (shared by :func:`check_datasets`): directory listings, and the
    (annotation file, image folder) pairs already checked, which are not read again."""
    index = index if index is not None else FileIndex()
    done = done if done is not None else set()
    prefixes = _prefixes(ds)
    if any('://' in p for p in prefixes.values()):
        return
    ann = _ann_path(ds)
    img_dir = prefixes.get('img', prefixes.get('img_path', ds.get('data_root') or ''))
    seen = (ann, img_dir, prefixes.get('seg_map_path'))
    if seen in done:
        return
    done.add(seen)
    if not ann:
        check_seg_folder(key, ds, prefixes, index)
        return
    if '://' in ann or not osp.isfile(ann):
        return  # a missing ann file is reported by check_data_paths
    if ann.endswith('.json'):
        with open(ann) as f:
            content = json.load(f)
        if isinstance(content, dict) and all('file_name' in i for i in content.get('images', [])):
            check_coco(key, ann, img_dir, content, index)
    elif ann.endswith('.txt'):
        if 'seg_map_path' not in prefixes:
            check_list_file(key, ann, img_dir, index=index)
        elif seg_suffixes(ds)[0]:  # mmseg split file: basenames without suffix
            check_list_file(key, ann, img_dir, seg_suffixes(ds)[0], index)


def check_datasets(datasets) -> None:
    """Check ``(config key, dataset config)`` pairs; in a distributed run rank 0 checks and the
    other ranks raise the same error (or none) from its broadcast verdict.

    mmengine creates the process group in the Runner; where it does not exist yet (CUDA
    launchers), every rank checks for itself.
    """
    from mmengine.dist import broadcast_object_list, get_rank, is_distributed

    def check():
        index, done = FileIndex(), set()
        for key, ds in datasets:
            check_dataset_images(key, ds, index, done)

    if not is_distributed():
        check()
        return
    verdict = [None]  # (exception type name, message) of rank 0's failure
    if get_rank() == 0:
        try:
            check()
        except Exception as e:  # noqa: BLE001  (any failure must reach the other ranks)
            verdict[0] = (type(e).__name__, str(e))
            broadcast_object_list(verdict, src=0)
            raise
    broadcast_object_list(verdict, src=0)
    if verdict[0] is not None:
        name, message = verdict[0]
        if name == 'FileNotFoundError':
            raise FileNotFoundError(message)
        raise RuntimeError(f'data check failed on rank 0: {name}: {message}')
