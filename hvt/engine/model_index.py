"""Reading HVT's model index: ``model-index.yml`` and the ``configs/*/metafile.yml`` it imports.

The metafiles (OpenMMLab format) are the one place that describes the model zoo: the variants and
their counts (read by ``tools/analysis/model_zoo.py``), the paper's numbers (``Results``, read by
``tools/analysis/paper_table.py``) and the official checkpoints (``Weights`` plus the
``HVT.Official`` block, read by :mod:`hvt.engine.weights`). This module only parses and validates
them; each reader interprets its own fields.
"""
import glob
import os.path as osp

import yaml

# the repository root: configs/, tools/ and model-index.yml sit next to the hvt package
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def metafile_paths(root=ROOT):
    """The metafiles listed in ``model-index.yml`` (in its order); every
    ``configs/*/metafile.yml`` must be listed there."""
    index = osp.join(root, 'model-index.yml')
    if not osp.isfile(index):
        raise FileNotFoundError(
            f'{index} not found: the model index ships with the HVT repository (configs/, tools/); '
            'install HVT from a clone with `pip install -e .`')
    with open(index) as f:
        listed = [osp.normpath(osp.join(root, p)) for p in yaml.safe_load(f)['Import']]
    found = sorted(glob.glob(osp.join(root, 'configs', '*', 'metafile.yml')))
    missing = [osp.relpath(p, root) for p in found if osp.normpath(p) not in listed]
    if missing:
        raise ValueError(f'metafiles not listed in model-index.yml: {missing}')
    return listed


def load_metafiles(paths=None, root=ROOT):
    """``(collections, entries)`` from the metafiles (default: every
    ``configs/*/metafile.yml``), in file order. Each entry gets ``_metafile`` (its file,
    relative to ``root``)."""
    collections, entries = {}, []
    for path in paths or metafile_paths(root):
        with open(path) as f:
            data = yaml.safe_load(f) or {}
        rel = osp.relpath(path, root)
        for col in data.get('Collections', []):
            col = dict(col, _metafile=rel)
            collections[col['Name']] = col
        for model in data.get('Models', []):
            if model.get('In Collection') not in collections:
                raise ValueError(f'{rel}: model {model.get("Name")!r} names an unknown collection '
                                 f'{model.get("In Collection")!r}')
            if not model.get('Config') and not model.get('HVT', {}).get('Model'):
                raise ValueError(f'{rel}: model {model["Name"]!r} has neither Config nor HVT.Model')
            entries.append(dict(model, _metafile=rel))
    names = [e['Name'] for e in entries]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f'duplicate model names in the metafiles: {dup}')
    return collections, entries


def hvt_fields(entry):
    """The ``HVT`` block of a metafile entry (``{}`` if it has none)."""
    return entry.get('HVT') or {}


def is_counted(entry):
    """Whether an entry is a variant whose parameters the model zoo counts (it states
    ``HVT.Params`` or a paper parameter count); downstream, pre-training and teacher
    checkpoints are catalogued for their weights only."""
    return (hvt_fields(entry).get('Params') is not None
            or (entry.get('Metadata') or {}).get('Parameters') is not None)
