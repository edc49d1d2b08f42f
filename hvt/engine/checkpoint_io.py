"""Reading and writing checkpoint files safely, for the tools and the converters.

* :func:`check_checkpoint_file` fails fast, naming the path, on a missing, truncated or corrupt file
  (instead of a ``PytorchStreamReader failed reading zip archive`` deep inside a run).
* :func:`load_checkpoint_file` loads with ``weights_only=True`` (plus HVT's allow-list for mmengine
  checkpoints). Legacy pickles that need arbitrary globals, such as official checkpoints holding an
  ``argparse.Namespace``, load only with ``trust_pickle=True`` (the converters' ``--trust-pickle``).
* :func:`save_checkpoint_file` writes atomically.
* :func:`unwrap_state_dict` finds the state dict inside the usual wrappers.
"""
import io
import os.path as osp
import pickle
import warnings
import zipfile
from collections import OrderedDict

import torch

from .safe_checkpoint import atomic_write
from .safe_globals import register_safe_globals

TRUST_PICKLE_HELP = ('allow loading legacy pickled checkpoints (e.g. official ones that contain an '
                     'argparse.Namespace). Unpickling can execute arbitrary code: use it only for '
                     'files from a source you trust')


def check_checkpoint_file(path: str) -> None:
    """Raise ``FileNotFoundError`` / ``ValueError`` naming ``path`` if it cannot be a checkpoint."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path!r}')
    if osp.getsize(path) == 0:
        raise ValueError(f'checkpoint {path!r} is corrupt or incomplete (empty file)')
    with open(path, 'rb') as f:
        head = f.read(4)
    if head[:2] == b'PK':  # torch >= 1.6 zip format: the central directory sits at the very end
        try:
            with zipfile.ZipFile(path) as zf:
                zf.infolist()
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise ValueError(f'checkpoint {path!r} is corrupt or incomplete ({e})') from None
    elif head[:1] != b'\x80':  # neither a zip archive nor a legacy pickle stream
        raise ValueError(f'checkpoint {path!r} is corrupt or incomplete (not a torch checkpoint)')


def load_checkpoint_file(path: str, trust_pickle: bool = False, map_location='cpu'):
    """Load ``path`` safely (weights only); see the module doc for ``trust_pickle``."""
    check_checkpoint_file(path)
    register_safe_globals()
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if not trust_pickle:
            raise RuntimeError(
                f'checkpoint {path!r} contains pickled Python objects that a weights-only load '
                f'refuses ({str(e).splitlines()[0][:200]}). If you trust where the file comes '
                'from, rerun with --trust-pickle (trust_pickle=True): unpickling can run '
                'arbitrary code.') from None
        warnings.warn(f'loading {path!r} with full unpickling (--trust-pickle)')
        return torch.load(path, map_location=map_location, weights_only=False)
    except (RuntimeError, EOFError) as e:
        raise ValueError(f'checkpoint {path!r} is corrupt or incomplete ({e})') from None


def save_checkpoint_file(obj, path: str) -> None:
    """``torch.save`` to ``path`` atomically (never a half-written file)."""
    with io.BytesIO() as buf:
        torch.save(obj, buf)
        atomic_write(buf.getvalue(), path)


def unwrap_state_dict(checkpoint, keys=('state_dict_ema', 'model_ema', 'state_dict', 'model',
                                        'module'), strip_prefixes=('module.', ),
                      strict: bool = False):
    """Return ``(state_dict, key)``: the first of ``keys`` holding a non-empty dict, else the
    checkpoint itself (``key`` None), with ``strip_prefixes`` removed from the names.

    The one unwrapper for every loader and converter. ``strict`` raises a ``KeyError`` that lists
    the top-level keys when no key matches and the checkpoint is not itself a name -> tensor dict.
    """
    if not isinstance(checkpoint, dict):
        raise TypeError(f'a checkpoint must be a dict, got {type(checkpoint).__name__}')
    used = None
    sd = checkpoint
    for key in keys:
        if isinstance(checkpoint.get(key), dict) and checkpoint[key]:
            sd, used = checkpoint[key], key
            break
    if used is None and strict and not all(torch.is_tensor(v) for v in checkpoint.values()):
        raise KeyError(f'no state dict found in the checkpoint; top-level keys: '
                       f'{sorted(map(str, checkpoint))}; expected one of {list(keys)}')
    out = OrderedDict()
    for k, v in sd.items():
        for p in strip_prefixes:
            if k.startswith(p):
                k = k[len(p):]
        out[k] = v
    return out, used
