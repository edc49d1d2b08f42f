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

Labels are checked in the same pass (the files are read once): a list-file label must lie in
``0 .. num_classes - 1`` (the dataset's ``classes``, else its class's default ones, else
``model.head.num_classes``), and a COCO annotation's ``category_id`` must be one of the file's
``categories``; where the config names ``metainfo.classes``, each must be a category of the file,
in the file's order (mmdet numbers the matching categories in file order).

Folder datasets without an annotation file list only images that exist, so they need no image
check; :func:`check_folder_classes` compares their class folders across splits instead (mmpretrain
numbers the sorted sub-folders of each split on its own, so a missing or extra folder in one split
shifts every label after it). Remote paths (``s3://...``) are skipped. ``check_image_files=False``
at the top level of a config turns the image and label checks off (not the class folders').

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


def check_coco(key: str, ann: str, img_dir: str, content: dict, index: FileIndex = None,
               classes=None) -> None:
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
    check_coco_categories(key, ann, content, classes)


def check_coco_categories(key: str, ann: str, content: dict, classes=None) -> None:
    """Every annotation's ``category_id`` is one of ``categories``; the config's ``classes`` (if
    given) are category names of the file, in the file's order."""
    categories = content.get('categories')
    if not isinstance(categories, list) or not categories:
        return
    ids = {c.get('id') for c in categories}
    bad, total = [], 0
    for a in content.get('annotations', []):
        total += 1
        if a.get('category_id') not in ids:
            bad.append(a)
    if bad:
        shown = '\n'.join(f"  annotation id {a.get('id')} (image id {a.get('image_id')}): "
                          f"category_id {a.get('category_id')!r}" for a in bad[:SHOW])
        more = f'\n  ... and {len(bad) - SHOW} more' if len(bad) > SHOW else ''
        raise ValueError(
            f'{key}: {len(bad)} of {total} annotations in {ann!r} have a category_id that is not '
            f'among its categories (ids {sorted(ids, key=str)}):\n{shown}{more}\nFix the '
            'annotation file: mmdet would drop these objects without a word.')
    if not classes:
        return
    names = [c.get('name') for c in categories]
    absent = [c for c in classes if c not in names]
    if absent:
        raise ValueError(
            f'{key}.metainfo.classes: {", ".join(map(repr, absent))} not among the categories of '
            f'{ann!r} ({", ".join(map(repr, names))}); every later class would get the label of '
            'another. Spell the classes as the file names its categories.')
    in_file = [n for n in names if n in set(classes)]
    if in_file != list(classes):
        raise ValueError(
            f'{key}.metainfo.classes {tuple(classes)} are not in the order of the categories of '
            f'{ann!r} ({tuple(in_file)}): mmdet numbers the categories in file order, so the '
            'labels would carry the wrong names. List the classes in the order of the file.')
    extra = [n for n in names if n not in set(classes)]
    if extra:
        print(f'[hvt] {key}: categories {", ".join(map(repr, extra))} of {ann!r} are not in '
              'metainfo.classes; their annotations are left out', flush=True)


def check_list_file(key: str, ann: str, img_dir: str, suffix: str = '',
                    index: FileIndex = None, num_classes: int = None) -> None:
    """``<file> [<label>]`` lines (mmpretrain) or, with ``suffix``, image basenames (mmseg).

    With ``num_classes``, every line needs a label in ``0 .. num_classes - 1``."""
    index = index or FileIndex()
    missing, total, bad = [], 0, []
    with open(ann) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            total += 1
            name, space, label = line.rpartition(' ')
            if suffix or not space or not label.lstrip('-').isdigit():
                name = line
                if num_classes and not suffix:
                    bad.append((lineno, label if space else '', line))
            elif num_classes and not 0 <= int(label) < num_classes:
                bad.append((lineno, label, name))
            if not index.has(img_dir, name + suffix):
                missing.append((osp.join(img_dir, name + suffix), lineno))
    if missing:
        _fail(key, ann, missing, total, lambda m: f'{m[0]!r} (line {m[1]})')
    if bad:
        shown = '\n'.join(f'  line {n}: label {lab!r} ({name!r})' for n, lab, name in bad[:SHOW])
        more = f'\n  ... and {len(bad) - SHOW} more' if len(bad) > SHOW else ''
        raise ValueError(
            f'{key}: {len(bad)} of {total} lines of {ann!r} have no label in 0..{num_classes - 1} '
            f'({num_classes} classes):\n{shown}{more}\nFix the labels, or the classes / '
            'num_classes of the config.')


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


def dataset_class(ds: dict, scope: str = 'mmpretrain'):
    """The class a dataset config builds, looked up in ``scope``'s registry (None if unknown)."""
    kind = ds.get('type')
    if isinstance(kind, type):
        return kind
    try:
        import importlib
        return importlib.import_module(f'{scope}.registry').DATASETS.get(kind)
    except Exception:  # noqa: BLE001  (library missing, or not one of its datasets)
        return None


def config_classes(ds: dict):
    """The classes a dataset config names (``metainfo.classes``, else mmpretrain's ``classes``,
    a sequence or a file with one name a line), as a tuple; None if it names none."""
    meta = ds.get('metainfo')
    classes = meta.get('classes') if isinstance(meta, dict) else None
    if classes is None:
        classes = ds.get('classes')
    if isinstance(classes, str):
        if not osp.isfile(classes):
            return None
        with open(classes) as f:
            return tuple(line.strip() for line in f if line.strip())
    return tuple(classes) if isinstance(classes, (list, tuple)) else None


def list_file_classes(ds: dict, num_classes: int = None):
    """How many classes an mmpretrain list-file dataset has: its config's classes, else its
    class's default ones (``ImageNet``: 1000), else ``num_classes`` (the model head's)."""
    if ds.get('with_label', True) is False:
        return None
    classes = config_classes(ds)
    if classes is None:
        cls = dataset_class(ds)
        classes = (getattr(cls, 'METAINFO', None) or {}).get('classes') if cls else None
    return len(classes) if classes else num_classes


def folder_classes(ds: dict):
    """``(image folder, its sub-folders sorted)`` of an mmpretrain folder dataset (a
    ``CustomDataset`` or subclass without ``ann_file``: labels are the sorted sub-folders), listed
    as mmpretrain's ``find_folders`` does (hidden folders count); None for other datasets and for
    folders that do not exist or are remote."""
    if ds.get('ann_file') or ds.get('with_label', True) is False:
        return None
    try:
        from mmpretrain.datasets import CustomDataset
    except ImportError:
        return None
    cls = dataset_class(ds)
    if not (isinstance(cls, type) and issubclass(cls, CustomDataset)):
        return None
    folder = _prefixes(ds).get('img_path', ds.get('data_root') or '')
    if not folder or '://' in folder or not osp.isdir(folder):
        return None
    with os.scandir(folder) as entries:
        return folder, sorted(e.name for e in entries if osp.isdir(e.path))


def check_folder_classes(key: str, ds: dict, reference=None):
    """Make a folder dataset's labels mean the same classes as the training split's.

    mmpretrain's ``CustomDataset`` numbers the sorted sub-folders of each split on its own (given
    ``classes``, it only checks their number), so a split with one folder missing or one extra
    shifts every label after it. The folders must equal the config's ``classes`` (in sorted order)
    where it names them, else ``reference``'s (``(config key, folder, names)`` of the training
    split); a ``ValueError`` names the missing and extra folders. A dataset that names no classes
    then gets the reference's as ``metainfo.classes`` (unless its class has its own, as
    ``ImageNet``). Returns the folder names (None: not a folder dataset)."""
    found = folder_classes(ds)
    if found is None:
        return None
    folder, names = found
    given = config_classes(ds)
    if given is not None:
        expected, source = list(given), f"{key}.metainfo.classes"
    elif reference is not None and osp.normpath(reference[1]) != osp.normpath(folder):
        expected, source = list(reference[2]), f"{reference[0]}'s ({reference[1]!r})"
    else:
        return names
    missing = [c for c in expected if c not in names]
    extra = [n for n in names if n not in expected]
    if missing or extra:
        parts = [f'missing in {folder!r}: {", ".join(map(repr, missing))}'] if missing else []
        parts += [f'extra: {", ".join(map(repr, extra))}'] if extra else []
        raise ValueError(
            f'{key}: class folders differ from {source}: {"; ".join(parts)}. Labels are the '
            'sorted sub-folders of each split, numbered per split, so every label after a missing '
            'or extra folder would shift. Give every split the same class folders (an empty '
            'folder is fine for a class without images in this split; hidden folders such as '
            "'.ipynb_checkpoints' count as classes).")
    if given is not None:
        if list(given) != names:
            raise ValueError(
                f'{key}.metainfo.classes {tuple(given)} are not in sorted order: mmpretrain '
                'numbers the class folders sorted, so the labels would carry the wrong names. '
                f'List them as {tuple(names)}.')
        return names
    cls = dataset_class(ds)
    if not (getattr(cls, 'METAINFO', None) or {}).get('classes'):
        meta = dict(ds.get('metainfo') or {})
        meta['classes'] = tuple(expected)
        ds['metainfo'] = meta
    return names


def check_dataset_images(key: str, ds: dict, index: FileIndex = None, done: set = None,
                         num_classes: int = None) -> None:
    """Check one dataset config (not its wrapped datasets); see the module docstring.

    ``index`` / ``done`` (shared by :func:`check_datasets`): directory listings, and the
    (annotation file, image folder) pairs already checked, which are not read again.
    ``num_classes``: the model's, for list files whose dataset names no classes."""
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
            check_coco(key, ann, img_dir, content, index, config_classes(ds))
    elif ann.endswith('.txt'):
        if 'seg_map_path' not in prefixes:
            check_list_file(key, ann, img_dir, index=index,
                            num_classes=list_file_classes(ds, num_classes))
        elif seg_suffixes(ds)[0]:  # mmseg split file: basenames without suffix
            check_list_file(key, ann, img_dir, seg_suffixes(ds)[0], index)


def check_datasets(datasets, num_classes: int = None) -> None:
    """Check ``(config key, dataset config)`` pairs; in a distributed run rank 0 checks and the
    other ranks raise the same error (or none) from its broadcast verdict. ``num_classes``: the
    model head's (see :func:`list_file_classes`).

    mmengine creates the process group in the Runner; where it does not exist yet (CUDA
    launchers), every rank checks for itself.
    """
    from mmengine.dist import broadcast_object_list, get_rank, is_distributed

    def check():
        index, done = FileIndex(), set()
        extra = {'num_classes': num_classes} if num_classes else {}
        for key, ds in datasets:
            check_dataset_images(key, ds, index, done, **extra)

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
        if name in ('FileNotFoundError', 'ValueError'):
            raise {'FileNotFoundError': FileNotFoundError, 'ValueError': ValueError}[name](message)
        raise RuntimeError(f'data check failed on rank 0: {name}: {message}')
