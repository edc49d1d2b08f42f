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
"""
import json
import os
import os.path as osp

SHOW = 5  # missing files named in an error


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


def check_coco(key: str, ann: str, img_dir: str, content: dict) -> None:
    users = {}
    for a in content.get('annotations', []):
        users.setdefault(a.get('image_id'), []).append(a.get('id'))
    images = content.get('images', [])
    missing = []
    for img in images:
        path = osp.join(img_dir, img['file_name'])
        if not osp.isfile(path):
            missing.append((path, img.get('id'), users.get(img.get('id'), [])))
    if missing:
        _fail(key, ann, missing, len(images),
              lambda m: f'{m[0]!r} (image id {m[1]}, used by annotation ids {m[2][:10]}'
                        + (' ...)' if len(m[2]) > 10 else ')'))


def check_list_file(key: str, ann: str, img_dir: str, suffix: str = '') -> None:
    """``<file> [<label>]`` lines (mmpretrain) or, with ``suffix``, image basenames (mmseg)."""
    missing, total = [], 0
    with open(ann) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            total += 1
            parts = line.rsplit(' ', 1)
            name = parts[0] if not suffix and len(parts) == 2 and parts[1].lstrip('-').isdigit() \
                else line
            path = osp.join(img_dir, name + suffix)
            if not osp.isfile(path):
                missing.append((path, lineno))
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


def check_seg_folder(key: str, ds: dict, prefixes: dict) -> None:
    img_dir, seg_dir = prefixes.get('img_path'), prefixes.get('seg_map_path')
    if not (img_dir and seg_dir) or not osp.isdir(img_dir):
        return
    img_suffix, seg_suffix = seg_suffixes(ds)
    if not (img_suffix and seg_suffix):
        return
    missing, total = [], 0
    for dirpath, _, files in os.walk(img_dir):
        for name in files:
            if not name.endswith(img_suffix):
                continue
            total += 1
            rel = osp.relpath(osp.join(dirpath, name), img_dir)
            seg = osp.join(seg_dir, rel[:-len(img_suffix)] + seg_suffix)
            if not osp.isfile(seg):
                missing.append((seg, osp.join(img_dir, rel)))
    if missing:
        _fail(key, img_dir, missing, total, lambda m: f'label map {m[0]!r} (of image {m[1]!r})')


def check_dataset_images(key: str, ds: dict) -> None:
    """Check one dataset config (not its wrapped datasets); see the module docstring."""
    prefixes = _prefixes(ds)
    if any('://' in p for p in prefixes.values()):
        return
    ann = _ann_path(ds)
    if not ann:
        check_seg_folder(key, ds, prefixes)
        return
    if '://' in ann or not osp.isfile(ann):
        return  # a missing ann file is reported by check_data_paths
    img_dir = prefixes.get('img', prefixes.get('img_path', ds.get('data_root') or ''))
    if ann.endswith('.json'):
        with open(ann) as f:
            content = json.load(f)
        if isinstance(content, dict) and all('file_name' in i for i in content.get('images', [])):
            check_coco(key, ann, img_dir, content)
    elif ann.endswith('.txt'):
        if 'seg_map_path' not in prefixes:
            check_list_file(key, ann, img_dir)
        elif seg_suffixes(ds)[0]:  # mmseg split file: basenames without suffix
            check_list_file(key, ann, img_dir, seg_suffixes(ds)[0])
