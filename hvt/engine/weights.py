"""Official weights by name: the catalog, download, checksum, conversion and the ``official:`` scheme.

The catalog is the model index itself: every ``configs/*/metafile.yml`` entry that carries an
``HVT.Official`` block describes one published checkpoint of the official code::

    - Name: vitaev2-s_8xb128_in1k           # model-zoo name (the config's stem)
      Config: configs/vitaev2/vitaev2-s_8xb128_in1k.py
      Results: [...]                        # the paper's numbers, which the checkpoint reproduces
      Weights: https://...                  # OpenMMLab's field: the first official link
      HVT:
        Official:
          Name: vitaev2-s_in1k              # the catalog name: fetch_weights.py NAME, official:NAME
          Sources:                          # every published link, tried in this order
          - {Type: gdrive, Id: ..., File: ViTAEv2-S.pth.tar}   # gdrive | gdrive-folder | onedrive
          - {Type: baidu, URL: ..., Password: ..., File: ...}  # | baidu (manual) | http
          Converter: vitae2hvt              # tools/model_converters/<name>.py, or null (used as is)
          Converter Args: [--arch, vitaev2-s]
          Forms: {dense: [--mode, dense]}   # optional: other conversions, official:NAME:FORM
          SHA256: null                      # of the downloaded file, once known
          Metrics: {...}                    # optional: the official README's number, if it differs
          Cfg Options: {...}                # optional: --cfg-options the config needs

:func:`fetch` downloads a checkpoint with a well-kept library (``gdown`` for Google Drive,
``requests`` for OneDrive's public share API and plain HTTP(S)) and a progress bar, into
``<name>.part`` that is fsynced and renamed only once complete and checked; verifies the sha256 (or
prints it); converts it with HVT's converter; and keeps the result in ``$HVT_CACHE/checkpoints``
(default ``~/.cache/hvt``). Baidu-only checkpoints cannot be downloaded by a program: the error
gives the manual steps, the password and the path to put the file at; from there it is the same.

Configs name weights instead of paths: ``checkpoint='official:vitaev2-s_in1k'`` in a
``Pretrained`` init_cfg, ``load_from='official:...'``, or ``tools/test.py CONFIG official:...``.
Importing this module registers ``official:`` with mmengine's ``CheckpointLoader``, so every
loader resolves it; :func:`resolve` gives the local path. The first use fetches and converts; later
uses read the cached file. In a distributed run only rank 0 downloads, the others wait at a barrier.

``HVT_WEIGHTS_MIRROR`` (a URL or a folder) replaces every entry's sources with
``<mirror>/<catalog name>/<file>``: for clusters without internet access, and for the tests.
"""
import hashlib
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .model_index import ROOT, hvt_fields, load_metafiles

SCHEME = 'official:'
SOURCE_TYPES = ('gdrive', 'gdrive-folder', 'onedrive', 'baidu', 'http')
MIRROR_ENV = 'HVT_WEIGHTS_MIRROR'
CHUNK = 1 << 20


class WeightsError(RuntimeError):
    """A catalog entry could not be fetched, checked or converted; the message names the entry
    and the cause."""


class ManualDownloadRequired(WeightsError):
    """The entry has no source a program can download from (Baidu Netdisk)."""


@dataclass
class Source:
    type: str
    file: str
    id: Optional[str] = None
    url: Optional[str] = None
    password: Optional[str] = None

    def link(self) -> str:
        """The link a person opens in a browser."""
        if self.type == 'gdrive':
            return f'https://drive.google.com/file/d/{self.id}/view'
        if self.type == 'gdrive-folder':
            return f'https://drive.google.com/drive/folders/{self.id}'
        return self.url


@dataclass
class Entry:
    """One official checkpoint of the catalog."""
    name: str
    model: str  # the metafile entry (model-zoo name)
    config: Optional[str]
    sources: List[Source]
    converter: Optional[str] = None
    converter_args: List[str] = field(default_factory=list)
    forms: Dict[str, List[str]] = field(default_factory=dict)
    sha256: Optional[str] = None
    metrics: Dict[str, Dict[str, float]] = field(default_factory=dict)  # {dataset: {metric: v}}
    cfg_options: Dict[str, object] = field(default_factory=dict)
    note: Optional[str] = None
    collection: Optional[str] = None

    @property
    def file(self) -> str:
        """The official file name (of the first source)."""
        return self.sources[0].file

    def kinds(self) -> str:
        return '+'.join(dict.fromkeys(s.type for s in self.sources))

    def downloadable(self) -> bool:
        return any(s.type != 'baidu' for s in self.sources)


# ---------------------------------------------------------------------------------------- catalog
def _entry(model: dict) -> Entry:
    off = hvt_fields(model)['Official']
    where = f'{model["_metafile"]}: {model["Name"]}'
    name = off.get('Name')
    if not name or not re.fullmatch(r'[a-z0-9][a-z0-9._-]*', name):
        raise ValueError(f'{where}: HVT.Official.Name must be lowercase [a-z0-9._-], got {name!r}')
    sources = []
    for s in off.get('Sources') or []:
        kind = s.get('Type')
        if kind not in SOURCE_TYPES:
            raise ValueError(f'{where}: source type {kind!r} is not one of {SOURCE_TYPES}')
        if not s.get('File'):
            raise ValueError(f'{where}: every source needs File (the official file name)')
        if kind.startswith('gdrive') and not s.get('Id'):
            raise ValueError(f'{where}: a {kind} source needs Id')
        if not kind.startswith('gdrive') and not s.get('URL'):
            raise ValueError(f'{where}: a {kind} source needs URL')
        sources.append(Source(kind, s['File'], s.get('Id'), s.get('URL'), s.get('Password')))
    if not sources:
        raise ValueError(f'{where}: HVT.Official has no Sources')
    metrics = {}
    for res in model.get('Results') or []:
        metrics.setdefault(res.get('Dataset', ''), {}).update(res.get('Metrics') or {})
    if off.get('Metrics'):
        ds = next(iter(metrics), '')
        metrics[ds] = dict(metrics.get(ds, {}), **off['Metrics'])
    sha = off.get('SHA256')
    if sha is not None and not re.fullmatch(r'[0-9a-f]{64}', str(sha)):
        raise ValueError(f'{where}: SHA256 must be 64 lowercase hex digits, got {sha!r}')
    return Entry(name=name, model=model['Name'], config=model.get('Config'), sources=sources,
                 converter=off.get('Converter'),
                 converter_args=[str(a) for a in off.get('Converter Args') or []],
                 forms={k: [str(a) for a in v] for k, v in (off.get('Forms') or {}).items()},
                 sha256=sha, metrics=metrics, cfg_options=dict(off.get('Cfg Options') or {}),
                 note=off.get('Note'), collection=model.get('In Collection'))


_CATALOG: Optional[Dict[str, Entry]] = None


def catalog(reload: bool = False) -> Dict[str, Entry]:
    """``{catalog name: Entry}`` in model-index order."""
    global _CATALOG
    if _CATALOG is None or reload:
        _, models = load_metafiles()
        out = {}
        for model in models:
            if 'Official' not in hvt_fields(model):
                continue
            entry = _entry(model)
            if entry.name in out:
                raise ValueError(f'{model["_metafile"]}: official weight name {entry.name!r} is '
                                 f'used twice (also by {out[entry.name].model})')
            out[entry.name] = entry
        _CATALOG = out
    return _CATALOG


def split_name(name: str) -> Tuple[str, Optional[str]]:
    """``'official:NAME[:FORM]'`` or ``'NAME[:FORM]'`` -> ``(NAME, FORM or None)``."""
    if name.startswith(SCHEME):
        name = name[len(SCHEME):]
    base, _, form = name.partition(':')
    return base, (form or None)


def get_entry(name: str) -> Entry:
    """The catalog entry of ``NAME`` (``official:`` and ``:FORM`` allowed), or a ``KeyError``
    that lists the closest names. A model-zoo name (``vitaev2-s_8xb128_in1k``) also works."""
    base, form = split_name(name)
    cat = catalog()
    entry = cat.get(base) or next((e for e in cat.values() if e.model == base), None)
    if entry is None:
        import difflib
        close = difflib.get_close_matches(base, list(cat), n=5, cutoff=0.4)
        raise KeyError(f'no official weight named {base!r}; closest: {close or "none"} '
                       '(`python tools/misc/fetch_weights.py --list` lists all)')
    if form is not None and form not in entry.forms:
        raise KeyError(f'official weight {entry.name!r} has no form {form!r}; it has '
                       f'{sorted(entry.forms) or "none"}')
    return entry


# ------------------------------------------------------------------------------------------ cache
def cache_root() -> str:
    return osp.expanduser(os.environ.get('HVT_CACHE') or osp.join('~', '.cache', 'hvt'))


def download_path(entry: Entry) -> str:
    """Where the official file of ``entry`` is kept once downloaded (and where a manually
    downloaded file must be put)."""
    return osp.join(cache_root(), 'downloads', entry.name, entry.file)


def converted_path(entry: Entry, form: Optional[str] = None) -> str:
    """The file that ``official:NAME[:FORM]`` resolves to."""
    if entry.converter is None:
        ext = osp.splitext(entry.file)[1] or '.pth'
        return osp.join(cache_root(), 'checkpoints', entry.name + ext)
    suffix = f'-{form}' if form else ''
    return osp.join(cache_root(), 'checkpoints', f'{entry.name}{suffix}.pth')


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(CHUNK), b''):
            h.update(block)
    return h.hexdigest()


def _finish_part(part: str, dest: str) -> None:
    """fsync ``part`` and rename it to ``dest`` (and make the rename durable)."""
    with open(part, 'rb+') as f:
        os.fsync(f.fileno())
    os.replace(part, dest)
    try:
        fd = os.open(osp.dirname(dest), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove(*paths) -> None:
    for p in paths:
        if p and osp.lexists(p):
            os.remove(p)
    for p in paths:  # drop the entry's folder if it is left empty
        folder = osp.dirname(p) if p else None
        if folder and osp.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)


# --------------------------------------------------------------------------------------- download
def _progress(total: Optional[int], desc: str):
    from tqdm import tqdm
    return tqdm(total=total, unit='B', unit_scale=True, unit_divisor=1024, desc=desc,
                file=sys.stderr, dynamic_ncols=True)


def _http_get(url: str, part: str, desc: str) -> None:
    """Stream ``url`` into ``part`` with a progress bar; fail on a short read."""
    import requests
    with requests.get(url, stream=True, timeout=(15, 120), allow_redirects=True) as r:
        r.raise_for_status()
        total = r.headers.get('Content-Length')
        total = int(total) if total and total.isdigit() else None
        got = 0
        with open(part, 'wb') as f, _progress(total, desc) as bar:
            for block in r.iter_content(CHUNK):
                f.write(block)
                got += len(block)
                bar.update(len(block))
    if total is not None and got != total:
        raise WeightsError(f'download of {url} stopped after {got:,} of {total:,} bytes '
                           '(truncated)')


def onedrive_direct_url(share_url: str) -> str:
    """OneDrive's public share API: ``u!`` + unpadded base64url of the share link."""
    import base64
    token = base64.urlsafe_b64encode(share_url.encode()).decode().rstrip('=')
    return f'https://api.onedrive.com/v1.0/shares/u!{token}/root/content'


def _gdown_file(file_id: str, part: str) -> None:
    import gdown
    out = gdown.download(id=file_id, output=part, quiet=False)
    if not out or not osp.isfile(part):
        raise WeightsError(f'Google Drive refused file id {file_id} (quota exceeded, or not '
                           'public any more)')


def _gdown_folder_file(folder_id: str, name: str, part: str) -> None:
    import gdown
    try:
        listing = gdown.download_folder(id=folder_id, quiet=True, skip_download=True)
    except TypeError:  # gdown < 4.7 cannot list a folder without downloading all of it
        raise WeightsError('listing a Google Drive folder needs gdown >= 4.7 '
                           '(pip install -U gdown)') from None
    for item in listing or []:
        if osp.basename(item.path) == name:
            return _gdown_file(item.id, part)
    found = sorted(osp.basename(i.path) for i in listing or [])
    raise WeightsError(f'Google Drive folder {folder_id} has no file {name!r} (it has {found})')


def _download_source(src: Source, part: str, desc: str) -> None:
    if src.type == 'gdrive':
        _gdown_file(src.id, part)
    elif src.type == 'gdrive-folder':
        _gdown_folder_file(src.id, src.file, part)
    elif src.type == 'onedrive':
        _http_get(onedrive_direct_url(src.url), part, desc)
    elif src.type == 'http':
        _http_get(src.url, part, desc)
    else:
        raise ValueError(src.type)


def mirror_sources(entry: Entry, mirror: str) -> List[Source]:
    """The entry's file under ``$HVT_WEIGHTS_MIRROR``: ``<mirror>/<name>/<file>``."""
    if '://' in mirror:
        return [Source('http', entry.file, url=f'{mirror.rstrip("/")}/{entry.name}/{entry.file}')]
    return [Source('local', entry.file, url=osp.join(mirror, entry.name, entry.file))]


def manual_steps(entry: Entry) -> str:
    lines = [f'official weight {entry.name!r} is published only on Baidu Netdisk, which cannot be '
             'downloaded by a program. Download it by hand:']
    for i, s in enumerate(entry.sources, 1):
        pw = f' (password: {s.password})' if s.password else ''
        lines.append(f'  {i}. open {s.link()}{pw} and download {s.file}')
    lines.append(f'  then put the file at {download_path(entry)}')
    lines.append(f'  (or run: python tools/misc/fetch_weights.py {entry.name} --file PATH)')
    lines.append('and run the same command again: the checksum, the conversion and the rest '
                 'follow as for any other entry.')
    return '\n'.join(lines)


def download(entry: Entry, log=print) -> str:
    """The official file of ``entry``, downloaded if not yet in the cache; returns its path."""
    dest = download_path(entry)
    if osp.isfile(dest):
        return dest
    mirror = os.environ.get(MIRROR_ENV)
    sources = mirror_sources(entry, mirror) if mirror else entry.sources
    if not any(s.type != 'baidu' for s in sources):
        raise ManualDownloadRequired(manual_steps(entry))
    os.makedirs(osp.dirname(dest), exist_ok=True)
    part = dest + '.part'
    errors = []
    for src in sources:
        if src.type == 'baidu':
            continue
        where = src.url if src.type in ('http', 'local') else src.link()
        log(f'[fetch_weights] {entry.name}: downloading {src.file} from {where}')
        try:
            if src.type == 'local':
                shutil.copyfile(src.url, part)
            else:
                _download_source(src, part, entry.name)
            _check_download(part, entry)
        except KeyboardInterrupt:
            _remove(part)
            raise
        except Exception as exc:  # try the next source; report them all
            _remove(part)
            errors.append(f'{src.type} {where}: {type(exc).__name__}: {exc}')
            continue
        _finish_part(part, dest)
        return dest
    _remove(part)
    hint = ('\n' + manual_steps(entry)) if any(s.type == 'baidu' for s in entry.sources) else ''
    raise WeightsError(f'official weight {entry.name!r}: every source failed:\n  '
                       + '\n  '.join(errors) + hint)


def _check_download(part: str, entry: Entry) -> None:
    """A complete, uncorrupted file with the catalog's checksum, before it gets its real name."""
    if entry.sha256:
        got = sha256_of(part)
        if got != entry.sha256:
            raise WeightsError(f'sha256 mismatch for {entry.file}: got {got}, the catalog has '
                               f'{entry.sha256} (corrupt or changed download)')
    if entry.file.endswith(('.pth', '.pt', '.tar', '.bin', '.ckpt')):
        from .checkpoint_io import check_checkpoint_file
        check_checkpoint_file(part)  # a truncated zip or an HTML error page fails here


# ------------------------------------------------------------------------------------ conversion
def converter_path(name: str) -> str:
    path = osp.join(ROOT, 'tools', 'model_converters', f'{name}.py')
    if not osp.isfile(path):
        raise WeightsError(f'converter {name!r} not found at {path}')
    return path


def convert(entry: Entry, src: str, form: Optional[str] = None, log=print) -> str:
    """Convert the official file ``src`` for ``official:NAME[:FORM]``; returns the output path."""
    dst = converted_path(entry, form)
    if entry.converter is None:
        if osp.abspath(src) != osp.abspath(dst):  # used as it is: a hard link, not a copy
            os.makedirs(osp.dirname(dst), exist_ok=True)
            tmp = dst + '.part'
            if osp.lexists(tmp):  # left by an interrupted earlier call
                os.remove(tmp)
            try:
                os.link(src, tmp)
            except OSError:  # another file system, or no hard links there
                shutil.copyfile(src, tmp)
            _finish_part(tmp, dst)
        return dst
    args = entry.forms[form] if form else entry.converter_args
    cmd = [sys.executable, converter_path(entry.converter), osp.abspath(src), osp.abspath(dst),
           *args]
    log(f'[fetch_weights] {entry.name}: converting: {" ".join(cmd[1:])}')
    os.makedirs(osp.dirname(dst), exist_ok=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,  # args name configs/
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                              [ROOT, os.environ.get('PYTHONPATH', '')])))
    if proc.returncode != 0 or not osp.isfile(dst):
        _remove(dst)
        raise WeightsError(f'official weight {entry.name!r}: converting {src} failed (exit '
                           f'{proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}')
    return dst


def fetch(name: str, file: Optional[str] = None, log=print) -> str:
    """``official:NAME[:FORM]`` -> the converted checkpoint in the cache (downloaded and converted
    on first use). ``file``: an official file already downloaded by hand (it is checked and
    copied into the cache)."""
    entry = get_entry(name)
    _, form = split_name(name)
    out = converted_path(entry, form)
    if osp.isfile(out) and file is None:
        return out
    if file is not None:
        if not osp.isfile(file):
            raise FileNotFoundError(f'{file!r} not found')
        _check_download(file, entry)  # the error names the user's file
        dest = download_path(entry)
        os.makedirs(osp.dirname(dest), exist_ok=True)
        part = dest + '.part'
        shutil.copyfile(file, part)
        _finish_part(part, dest)
        src = dest
    else:
        src = download(entry, log)
    digest = sha256_of(src)
    if entry.sha256:
        log(f'[fetch_weights] {entry.name}: sha256 {digest} (matches the catalog)')
    else:
        log(f'[fetch_weights] {entry.name}: sha256 {digest} (the catalog has none yet: record it '
            'as HVT.Official.SHA256 in ' + f'the metafile of {entry.model})')
    return convert(entry, src, form, log)


def resolve(checkpoint):
    """A checkpoint value with ``official:NAME`` replaced by its cached path (fetched first);
    anything else is returned as it is. In a distributed run rank 0 fetches and the other ranks
    wait at a barrier."""
    if not isinstance(checkpoint, str) or not checkpoint.startswith(SCHEME):
        return checkpoint
    from mmengine.dist import barrier, get_dist_info
    rank, world = get_dist_info()
    if world == 1:
        return fetch(checkpoint)
    error = None
    if rank == 0:
        try:
            fetch(checkpoint)
        except Exception as exc:  # reach the barrier first, so the other ranks do not hang
            error = exc
    barrier()
    if error is not None:
        raise error
    entry = get_entry(checkpoint)
    path = converted_path(entry, split_name(checkpoint)[1])
    if not osp.isfile(path):
        raise WeightsError(f'rank {rank}: {checkpoint} is not in the cache after rank 0 fetched '
                           f'it ({path}); is HVT_CACHE on a file system all ranks share?')
    return path


def local_checkpoint(checkpoint: str) -> str:
    """:func:`resolve`, then fail fast (naming the file) if the result is no checkpoint."""
    from .checkpoint_io import check_checkpoint_file
    path = resolve(checkpoint)
    check_checkpoint_file(path)
    return path


def zoo_model(name: str) -> Tuple[str, dict, Optional[str]]:
    """A model-zoo name (``vitaev2-s_8xb128_in1k``) or an official weight name
    (``vitaev2-s_in1k``) -> ``(config path, cfg options, official weight name or None)``."""
    _, models = load_metafiles()
    base, form = split_name(name)
    for model in models:
        off = hvt_fields(model).get('Official') or {}
        if base in (model['Name'], off.get('Name')):
            if not model.get('Config'):
                raise KeyError(f'model-zoo entry {model["Name"]!r} has no config to build')
            opts = dict(hvt_fields(model).get('Cfg Options') or {})
            opts.update(off.get('Cfg Options') or {})
            official = off.get('Name')
            if official and form:
                official += f':{form}'
            return osp.join(ROOT, model['Config']), opts, official
    import difflib
    names = [m['Name'] for m in models] + list(catalog())
    close = difflib.get_close_matches(base, names, n=5, cutoff=0.4)
    raise KeyError(f'{name!r} is neither a config file nor a model-zoo or official weight name; '
                   f'closest names: {close or "none"} (README "Model zoo", '
                   '`python tools/misc/fetch_weights.py --list`)')


def eval_command(entry: Entry, form: Optional[str] = None) -> str:
    """The ``tools/test.py`` command that evaluates ``entry`` on its benchmark."""
    if not entry.config:
        return ''
    name = entry.name + (f':{form}' if form else '')
    cmd = f'python tools/test.py {entry.config} {SCHEME}{name}'
    if entry.cfg_options:
        cmd += ' --cfg-options ' + ' '.join(f'{k}={v}' for k, v in entry.cfg_options.items())
    return cmd


def expected_metrics(entry: Entry) -> str:
    parts = [f'{ds} {k} {v}' if ds else f'{k} {v}'
             for ds, ms in entry.metrics.items() for k, v in ms.items()]
    return ', '.join(parts) or 'none published'


# --------------------------------------------------------------------------- the mmengine scheme
def _load_official(filename, map_location=None, logger='current'):
    from .checkpoint_io import load_checkpoint_file
    return load_checkpoint_file(resolve(filename), map_location=map_location or 'cpu')


def register_scheme() -> None:
    """Let mmengine's ``CheckpointLoader`` (``load_from``, its ``Pretrained`` initializer, any
    ``load_checkpoint``) read ``official:NAME``."""
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes=SCHEME, loader=_load_official, force=True)


register_scheme()
