"""The package's import graph: no two modules of ``hvt`` import each other.

Read statically from every ``import`` statement in ``hvt/`` (also those inside functions, which
hide a cycle at import time but still tie two files together). A package ``__init__`` that
gathers its own sub-modules is the usual package layout and is not counted as a cycle with them.
"""
import ast
import os
import os.path as osp

from toolkit import ROOT


def _module_name(path, root):
    rel = osp.relpath(path, root)[:-3].replace(os.sep, '.')
    return rel[:-len('.__init__')] if rel.endswith('.__init__') else rel


def _modules(root=ROOT):
    out = {}
    for dirpath, _, files in os.walk(osp.join(root, 'hvt')):
        for f in files:
            if f.endswith('.py'):
                path = osp.join(dirpath, f)
                out[_module_name(path, root)] = path
    return out


def _imports(name, path, modules):
    """The hvt modules ``name`` imports (``from pkg import sub`` counts ``pkg.sub``)."""
    is_pkg = path.endswith('__init__.py')
    base = name.split('.') if is_pkg else name.split('.')[:-1]
    found = set()
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base[:len(base) - node.level + 1]
                mod = '.'.join(parent + ([node.module] if node.module else []))
            else:
                mod = node.module
            targets = [mod] + [f'{mod}.{a.name}' for a in node.names]
        else:
            continue
        for t in targets:
            if t in modules and t != name:
                found.add(t)
    return found


def _is_own_package(a, b):
    return b.startswith(a + '.')


def test_no_two_module_import_cycles():
    modules = _modules()
    assert 'hvt.models.backbones.base' in modules
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    cycles = sorted({tuple(sorted((a, b))) for a, targets in graph.items() for b in targets
                     if a in graph.get(b, ()) and not _is_own_package(a, b)
                     and not _is_own_package(b, a)})
    assert not cycles, f'modules importing each other: {cycles}'


def test_backbones_and_layers_do_not_import_heads_or_algorithms():
    modules = _modules()
    for name, path in modules.items():
        if name.startswith('hvt.models.backbones.') or name.startswith('hvt.models.layers.'):
            bad = {t for t in _imports(name, path, modules)
                   if t.startswith(('hvt.models.heads', 'hvt.models.selfsup'))}
            assert not bad, f'{name} imports {sorted(bad)}'


def test_the_cycle_finder_finds_a_cycle(tmp_path):
    """The check itself: two files that import each other are reported."""
    pkg = tmp_path / 'hvt'
    pkg.mkdir()
    (pkg / '__init__.py').write_text('')
    (pkg / 'a.py').write_text('def f():\n    from .b import g\n')
    (pkg / 'b.py').write_text('from hvt.a import f\n')
    modules = _modules(str(tmp_path))
    graph = {n: _imports(n, p, modules) for n, p in modules.items()}
    assert graph['hvt.a'] == {'hvt.b'} and graph['hvt.b'] == {'hvt.a'}
