"""The repository's design notes are self-contained (issue 19, item 4).

1. No tracked file cites a document that users of the repository do not have: the design specs
   the code was written from lived outside the repository, and their section numbers and
   assumption ids mean nothing to a reader (the patterns are listed in ``EXTERNAL``).
   Decisions are recorded in ``docs/design/*.md`` and cited as
   ``docs/design/<family>.md#<section>``.
2. Every such ``docs/...md#anchor`` reference, and every relative markdown link in a ``.md`` file,
   points to an existing file and, when it has one, to an existing heading anchor (GitHub style:
   lower case, punctuation dropped, spaces to hyphens, ``-1``, ``-2`` ... for repeated headings).
"""
import os
import os.path as osp
import re
import subprocess
from functools import lru_cache

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
THIS = osp.relpath(osp.abspath(__file__), ROOT).replace(os.sep, '/')

# citations of documents outside the repository
EXTERNAL = [
    ('section sign', re.compile('\u00a7')),
    ('spec <name>.md', re.compile(r'\bspec [a-z_]+\.md', re.I)),
    ('shared/specs', re.compile(r'shared/specs')),
    ('../shared', re.compile(r'\.\./shared\b')),
    ('/work/shared', re.compile(r'/work/shared\b')),
    ('spec section / number / assumption', re.compile(r'\b[Ss]pec (?:section )?(?:\d|A\d)')),
]

# groups, so that one area still being migrated does not hide the state of the others
GROUPS = ('hvt/models/', 'hvt/', 'configs/', 'docs/', 'tests/', 'tools/', '')


def _tracked_files():
    # tracked files plus new ones not ignored (what the next commit would hold)
    try:
        out = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                             cwd=ROOT, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip('not a git checkout')
    files = sorted({f for f in out.stdout.decode().split('\0') if f})
    return [f for f in files if f != THIS and osp.isfile(osp.join(ROOT, f))]


@lru_cache(maxsize=None)
def _read(path):
    try:
        with open(osp.join(ROOT, path), 'rb') as f:
            data = f.read()
    except OSError:
        return None
    if b'\0' in data[:8192]:
        return None
    return data.decode('utf-8', errors='replace')


def _group(path):
    return next(g for g in GROUPS if path.startswith(g))


@pytest.mark.parametrize('group', GROUPS, ids=[g.rstrip('/') or 'top-level' for g in GROUPS])
def test_no_citations_of_external_documents(group):
    offenders = []
    for path in _tracked_files():
        if _group(path) != group:
            continue
        text = _read(path)
        if text is None:
            continue
        for i, line in enumerate(text.splitlines(), 1):
            for name, pat in EXTERNAL:
                if pat.search(line):
                    offenders.append(f'{path}:{i}: [{name}] {line.strip()[:160]}')
                    break
    assert not offenders, (
        f'{len(offenders)} line(s) cite documents outside the repository; record the decision in '
        'docs/design/<family>.md and cite docs/design/<family>.md#<section> instead '
        '(/tmp/replace_citations.py maps the known forms):\n' + '\n'.join(offenders))


def github_anchor(heading):
    """GitHub's anchor for a markdown heading text (without the repeat suffix)."""
    text = re.sub(r'`([^`]*)`', r'\1', heading)                 # inline code keeps its text
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', text)        # links keep their text
    text = text.strip().lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


@lru_cache(maxsize=None)
def anchors_of(path):
    text = _read(path)
    if text is None:
        return frozenset()
    seen, out, fence = {}, set(), False
    for line in text.splitlines():
        if re.match(r'^\s*(```|~~~)', line):
            fence = not fence
            continue
        if fence:
            continue
        m = re.match(r'^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$', line)
        if not m:
            continue
        base = github_anchor(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f'{base}-{n}')
    return frozenset(out)


def test_github_anchor():
    assert github_anchor('Stochastic depth slicing') == 'stochastic-depth-slicing'
    assert github_anchor("What stays HVT's own") == 'what-stays-hvts-own'
    assert github_anchor('Downstream LayerNorm eps 1e-5') == 'downstream-layernorm-eps-1e-5'
    assert github_anchor('Conventions: norms, layer scale and initialisation') == \
        'conventions-norms-layer-scale-and-initialisation'
    assert github_anchor('`hvt.HiViT` options') == 'hvthivit-options'


# docs/...md[#anchor] anywhere (repository-root relative, also behind a ../ chain), not in URLs
DOCS_REF = re.compile(r'(?<![\w./-])(?:\.\./)*(docs/[\w./-]*?\.md)(?:#([\w-]+))?')
# relative markdown links in .md files
MD_LINK = re.compile(r'\]\(([^)\s#]+\.md)(?:#([\w-]+))?\)')


def _references():
    for path in _tracked_files():
        text = _read(path)
        if text is None:
            continue
        for i, line in enumerate(text.splitlines(), 1):
            for m in DOCS_REF.finditer(line):
                yield path, i, m.group(1), m.group(2)
            if path.endswith('.md'):
                for m in MD_LINK.finditer(line):
                    target = m.group(1)
                    if re.match(r'^[a-z]+:', target) or 'docs/' in target:
                        continue   # URLs; docs/ paths are checked above
                    rel = osp.normpath(osp.join(osp.dirname(path), target)).replace(os.sep, '/')
                    yield path, i, rel, m.group(2)


def test_design_note_references_resolve():
    bad, n = [], 0
    for path, line, target, anchor in _references():
        n += 1
        if not osp.isfile(osp.join(ROOT, target)):
            bad.append(f'{path}:{line}: {target} does not exist')
        elif anchor and anchor not in anchors_of(target):
            bad.append(f'{path}:{line}: {target} has no heading with anchor #{anchor}')
    assert n > 0
    assert not bad, 'broken references to the documentation:\n' + '\n'.join(bad)


def test_design_notes_exist():
    for name in ('README', 'vitae', 'dualvit', 'cetnet', 'itpn', 'mixed_precision'):
        assert osp.isfile(osp.join(ROOT, 'docs', 'design', f'{name}.md')), name
