"""The model-zoo check (issue 9): tools/analysis/model_zoo.py against the official models' counts, the README
table generated from the metafiles, and tools/analysis/get_flops.py."""
import json
import os.path as osp
import re
import resource
import sys

import pytest
import torch
import yaml

from toolkit import ROOT, run_tool

sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))
import model_zoo  # noqa: E402
from get_flops import count_flops  # noqa: E402

FAMILIES = {'ViTAE', 'ViTAEv2', 'Dual-ViT', 'CETNet', 'CE on existing ViTs (CETNet Table 7)',
            'iTPN', 'Fast-iTPN'}


@pytest.fixture(scope='module')
def zoo(tmp_path_factory):
    """One ``--check`` run over the whole zoo (meta device), with its markdown and JSON."""
    d = tmp_path_factory.mktemp('zoo')
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = run_tool('analysis/model_zoo.py', '--check', '--markdown', d / 'zoo.md', '--json',
                   d / 'zoo.json', timeout=600, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    rows = json.loads((d / 'zoo.json').read_text())
    return dict(out=out, cpu=cpu, rows=rows, markdown=(d / 'zoo.md').read_text())


def test_check_passes_fast_and_covers_every_family(zoo):
    # CPU time, not wall time: the machine is shared, the tool itself must stay under a minute
    assert zoo['cpu'] < 60, f'model_zoo.py --check used {zoo["cpu"]:.0f} s of CPU'
    rows = zoo['rows']
    failing = {r['name']: r['errors'] for r in rows if r['errors']}
    assert not failing, f'model_zoo.py --check failed:\n{zoo["out"][-3000:]}'
    assert re.search(rf'{len(rows)} entries, \d+ checked against the official count, 0 failing', zoo['out'])
    # progress lines go to stderr, one per entry
    assert f'[{len(rows)}/{len(rows)}]' in zoo['out']
    _, entries = model_zoo.load_metafiles()
    # every counted variant is measured; weight-only entries (downstream, pre-training, teachers)
    # are not, and they carry no count that could be left unchecked
    assert [r['name'] for r in rows] == [e['Name'] for e in entries if model_zoo.is_counted(e)]
    assert {r['collection'] for r in rows} == FAMILIES
    # every registered arch is in the zoo; all but four baselines outside the CETNet paper carry
    # an official count, and the exact ones were matched to the parameter
    assert 'registered archs built by no metafile entry' not in zoo['out']
    assert {r['name'] for r in rows if r['spec_params'] is None} == {
        'cvt-21_8xb128_in1k', 'pvt-t_8xb128_in1k', 'pvt-m_8xb128_in1k', 'pvt-l_8xb128_in1k'}
    exact = [r for r in rows if r.get('spec_tol') == 0]
    assert len(exact) >= 40 and all(r['params'] == r['spec_params'] for r in exact)


def test_counts_are_the_official_integers(zoo):
    """A few rows straight from the official models' measured counts, so the metafiles cannot drift from them unnoticed."""
    by_name = {r['name']: r for r in zoo['rows']}
    for name, count in [('vitaev2-s_8xb128_in1k', 19_355_688), ('vitae-t_4xb128_in1k', 4_886_888),
                        ('vitae-h-p14_8xb128_in1k', 644_374_760),
                        ('dualvit-s-tl_8xb128_in1k', 25_054_000),
                        ('dualvit-l-tl_8xb64_in1k-384px', 72_966_544),
                        ('cetnet-b_8xb128_in1k', 75_809_578),
                        ('itpn-hivit-b-p16_pixel-pre_8xb128-coslr-100e_in1k', 78_557_992),
                        ('hivit-b-p16_in1k', 66_418_952), ('fast-itpn-l_8xb128_in1k', 312_017_320)]:
        assert by_name[name]['params'] == count, name
    # stated tolerances against the printed numbers: CETNet-T 1 %, ViTAEv2 0.15 M
    assert by_name['cetnet-t_8xb128_in1k']['paper_tol'] == pytest.approx(234_000)
    assert by_name['vitaev2-b_32xb32_in1k']['paper_tol'] == 150_000
    assert by_name['vitaev2-s_8xb64_in1k-384px']['resolution'] == 384


def test_readme_block_is_the_generated_table(zoo):
    with open(osp.join(ROOT, 'README.md')) as f:
        readme = f.read()
    block = model_zoo.readme_block(readme)
    assert block == zoo['markdown'], (
        'README model-zoo block differs from the generator: run '
        '`python tools/analysis/model_zoo.py --readme README.md`')
    assert '| vitaev2-s_8xb128_in1k | 224 | 19.36 | 19.3 | 5.7 | 82.6 |' in block
    for family in FAMILIES:
        assert f'### {family}\n' in block


TINY_METAFILE = dict(
    Collections=[dict(Name='Tiny', Paper=dict(Title='t', URL='https://example.org'))],
    Models=[dict(Name='tiny-cetnet', **{'In Collection': 'Tiny'},
                 Metadata=dict(Parameters=100000, FLOPs=10000000),
                 HVT=dict(Model=dict(type='ImageClassifier',
                                     backbone=dict(type='hvt.CETNet', arch=dict(
                                         embed_dims=32, depths=[1, 1, 1, 1],
                                         num_heads=[1, 2, 2, 4])),
                                     neck=dict(type='GlobalAveragePooling'),
                                     head=dict(type='LinearClsHead', num_classes=10,
                                               in_channels=256)),
                          Params=None, **{'Params Tolerance': 0}))])


def _tiny_count():
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    with torch.device('meta'):
        model = MODELS.build(TINY_METAFILE['Models'][0]['HVT']['Model'])
    return sum(p.numel() for p in model.parameters())


def test_check_fails_outside_tolerance_and_readme_rewrite(tmp_path, capsys):
    """The tool's main() in-process on a one-entry metafile: exact, absolute and relative
    tolerances, the exit status of --check, and --readme touching only the marked block."""
    count = _tiny_count()
    meta = json.loads(json.dumps(TINY_METAFILE))
    hvt = meta['Models'][0]['HVT']
    path = tmp_path / 'metafile.yml'

    def run(params, tol, *extra):
        hvt['Params'], hvt['Params Tolerance'] = params, tol
        path.write_text(yaml.safe_dump(meta, sort_keys=False))
        capsys.readouterr()
        try:
            model_zoo.main(['--check', '--metafile', str(path), *map(str, extra)])
            code = 0
        except SystemExit as exc:
            code = exc.code
        return code, capsys.readouterr().out

    code, out = run(count, 0)
    assert code == 0 and '1 entries, 1 checked against the official count, 0 failing' in out
    code, out = run(count + 1, 0)
    assert code == 1
    assert f'FAIL tiny-cetnet: params {count:,} differ from the official count {count + 1:,} by -1' in out
    assert run(count + 1000, 1000)[0] == 0 and run(count + 1001, 1000)[0] == 1
    assert run(int(count * 1.009), '1%')[0] == 0 and run(int(count * 1.02), '1%')[0] == 1
    # --readme replaces only the block between the markers
    readme = tmp_path / 'README.md'
    readme.write_text('# title\n\n<!-- model-zoo:start -->\nstale | table\n<!-- model-zoo:end -->\n'
                      '\n## after\n')
    assert run(count, 0, '--readme', readme)[0] == 0
    text = readme.read_text()
    assert text.startswith('# title\n\n<!-- model-zoo:start -->\n<!-- generated by')
    assert text.endswith('<!-- model-zoo:end -->\n\n## after\n') and 'stale' not in text
    assert f'| tiny-cetnet | 224 | {count / 1e6:.2f} | 0.1 | 0.01 | – |' in text
    assert model_zoo.readme_block(text) == model_zoo.markdown(*_tiny_tables(path, count))


def _tiny_tables(path, count):
    collections, entries = model_zoo.load_metafiles([str(path)])
    row = dict(name='tiny-cetnet', resolution=224, params=count)
    return collections, entries, [row]


def test_flops_count_attention_and_known_resnet18(tmp_path):
    from hvt.models.layers import attention as attn_mod
    from hvt.models.layers import Attention

    layer = Attention(32, num_heads=4).eval()
    # the fused path (scaled_dot_product_attention) is counted like the reference matmuls
    fused = count_flops(_TokenWrapper(layer), (8, 8))
    attn_mod.USE_FUSED_ATTENTION = False
    try:
        plain = count_flops(_TokenWrapper(layer), (8, 8))
    finally:
        attn_mod.USE_FUSED_ATTENTION = True
    n = 64
    assert fused == plain == n * 32 * 96 + n * 32 * 32 + 2 * n * n * 32
    # ResNet-18 at 224: 1.82 GMACs in mmpretrain's model zoo (the same fvcore convention)
    out = run_tool('analysis/get_flops.py', 'configs/resnet/resnet18_8xb32_in1k.py', timeout=300)
    flops = float(re.search(r'Flops: ([0-9.]+) G', out).group(1))
    assert 1.81 <= flops <= 1.83 and 'Params: 11.690 M (11689512)' in out


class _TokenWrapper(torch.nn.Module):
    """(B, 3, H, W) -> tokens of width 32 -> attention (for counting one Attention layer)."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        tokens = x.flatten(2).transpose(1, 2).repeat(1, 1, 11)[..., :32]
        return self.layer(tokens)


def test_get_flops_smallest_classification_config():
    out = run_tool('analysis/get_flops.py', 'configs/vitae/vitae-t_4xb128_in1k.py', '--shape',
                   '64', '64', timeout=300)
    flops = float(re.search(r'Flops: ([0-9.]+) G', out).group(1))
    assert 0.05 < flops < 1.0  # about 1/12 of the 1.76 GMACs at 224
    assert 'Params: 4.887 M (4886888)' in out and 'Input shape: (3, 64, 64)' in out
