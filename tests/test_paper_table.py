"""tools/analysis/paper_table.py on the results of two real tools/test.py runs.

The runs evaluate, on the tiny datasets, the model-zoo configs of two metafile entries, ViTAEv2-S
ImageNet-1k classification and ViTAEv2-S SimpleBaseline on AP-10K (whose COCO-style AP mmpose
reports as a fraction), each narrowed to the demo's ViTAEv2 widths by a config file of the same
name that inherits from the real one (the table matches runs to entries by the config's stem).
The checkpoints are randomly initialised models saved with ``torch.save``. The paper numbers are
read from the metafiles here, so the test holds whatever the metafiles print. A random pose model
scores AP 0, so the fraction-to-percent scaling is checked on records written like tools/test.py's
(``test_metric_names_scales_order_and_missing_paper``), next to the matching and the override.
"""
import json
import os.path as osp
import re
import shutil
import sys

import pytest
import torch
from mmengine.config import Config

from toolkit import ROOT, cls_smoke_options, config_path, pose_smoke_options, run_tool

sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))
import paper_table  # noqa: E402

PNG = b'\x89PNG\r\n\x1a\n'
DEMO = Config.fromfile(config_path('configs/demo/vitaev2-demo_shapes.py'),
                       import_custom_modules=False)
NARROW = dict(_delete_=True, type='hvt.ViTAEv2', arch=DEMO.model.backbone.arch.to_dict(),
              out_indices=(3, ), drop_path_rate=0.0, init_cfg=None)
RUNS = {
    # key: (real config, model overrides, scope, smoke options, metrics checked)
    'cls': ('configs/vitaev2/vitaev2-s_8xb128_in1k.py',
            # 5 classes: a random model scores above 0 on the 4 shapes (top-5 is then 100)
            dict(backbone=NARROW, head=dict(in_channels=256, num_classes=5)), 'mmpretrain',
            lambda data, work, cfg: cls_smoke_options(data, work, img_size=64, config=cfg),
            {'accuracy/top1': ('Top 1 Accuracy', 1), 'accuracy/top5': ('Top 5 Accuracy', 1)}),
    'pose': ('configs/vitaev2/td-hm_vitaev2-s_8xb64-210e_ap10k-256x256.py',
             dict(backbone=NARROW, head=dict(in_channels=256, deconv_out_channels=(32, 32, 32))),
             'mmpose', lambda data, work, cfg: pose_smoke_options(data, work, cfg, size=128)
             + ['test_dataloader.dataset.indices=8'],
             {'coco/AP': ('AP', 100)}),
}


def _entry(config):
    _, entries = paper_table.load_metafiles()
    stem = osp.splitext(osp.basename(config))[0]
    found = [e for e in entries if e['Name'] == stem]
    assert found, f'no metafile entry named {stem}'
    return found[0]


def _paper(entry, name):
    for res in entry.get('Results') or []:
        if name in (res.get('Metrics') or {}):
            return float(res['Metrics'][name])
    return None


def _random_checkpoint(config, scope, path):
    from mmengine.registry import MODELS, DefaultScope
    import hvt.models  # noqa: F401
    # a module-scoped fixture calls this: the per-test scope isolation does not cover it, so the
    # scope must not outlive the build
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(Config.fromfile(config).model)
    torch.save({'state_dict': model.state_dict()}, path)


@pytest.fixture(scope='module')
def runs(tiny_data, tmp_path_factory):
    """``{key: work dir}`` of a real tools/test.py run per RUNS entry."""
    torch.manual_seed(0)
    out = {}
    for key, (real, model, scope, smoke, _) in RUNS.items():
        folder = tmp_path_factory.mktemp(key)
        config = folder / osp.basename(real)  # same stem as the metafile entry
        config.write_text(f'_base_ = [{config_path(real)!r}]\nmodel = {model!r}\n')
        ckpt = folder / 'random.pth'
        _random_checkpoint(str(config), scope, ckpt)
        work = folder / 'work'
        run_tool('test.py', config, ckpt, '--work-dir', work, '--cfg-options',
                 *smoke(tiny_data, work, str(config)))
        out[key] = work
    return out


def _table(text):
    """``{(model, metric): (paper, hvt, delta)}`` of the Markdown rows."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) == 5 and cells[0] not in ('Model', '---'):
            rows[(cells[0], cells[1])] = tuple(cells[2:])
    return rows


def test_metrics_json_written_by_test_py(runs):
    for key, work in runs.items():
        record = json.loads((work / 'metrics.json').read_text())
        assert osp.basename(record['config']) == osp.basename(RUNS[key][0])
        assert record['checkpoint'].endswith('random.pth')
        # the same numbers as mmengine's own record of the run, <timestamp>/<timestamp>.json
        ts = record['timestamp']
        own = json.loads((work / ts / f'{ts}.json').read_text())
        for metric in RUNS[key][4]:
            assert record['metrics'][metric] == pytest.approx(own[metric])


def test_table_from_two_runs(runs, tmp_path):
    md, png = tmp_path / 'table.md', tmp_path / 'table.png'
    text = run_tool('analysis/paper_table.py', runs['cls'], runs['pose'], '--out-md', md,
                    '--out-png', png)
    table = _table(md.read_text())
    assert _table(text) == table  # stdout prints the same table
    for key, (real, _, _, _, metrics) in RUNS.items():
        entry = _entry(real)
        measured = json.loads((runs[key] / 'metrics.json').read_text())['metrics']
        for mm_key, (name, factor) in metrics.items():
            paper = _paper(entry, name)
            assert paper is not None, f'{entry["Name"]} has no paper {name}'
            value = measured[mm_key] * factor
            assert table[(entry['Name'], name)] == (f'{paper:g}', f'{value:.2f}',
                                                    f'{value - paper:+.1f}')
    # grouped by benchmark, in metafile order: ImageNet before AP-10K
    assert md.read_text().index('### ImageNet-1k') < md.read_text().index('### AP-10K')
    assert 'warning' not in text
    assert png.read_bytes()[:8] == PNG
    from PIL import Image
    with Image.open(png) as im:
        im.verify()


def test_fallback_to_mmengine_record_and_unmatched_warning(runs, tmp_path, capsys):
    """Without metrics.json the run is read from mmengine's files; a config that no metafile
    entry has is warned about, naming the work dir and the config."""
    plain = tmp_path / 'plain'
    shutil.copytree(runs['cls'], plain)
    (plain / 'metrics.json').unlink()
    other = tmp_path / 'other'
    shutil.copytree(runs['cls'], other)
    (other / 'metrics.json').unlink()
    (other / 'vitaev2-s_8xb128_in1k.py').rename(other / 'my-net_in1k.py')
    rows = paper_table.main([str(plain), str(other)])
    out = capsys.readouterr()
    entry = _entry(RUNS['cls'][0])
    measured = json.loads((runs['cls'] / 'metrics.json').read_text())['metrics']
    assert [(r['model'], r['metric'], r['hvt']) for r in rows] == [
        (entry['Name'], 'Top 1 Accuracy', measured['accuracy/top1']),
        (entry['Name'], 'Top 5 Accuracy', measured['accuracy/top5'])]
    warnings = re.findall(r'warning: (.*)', out.err)
    assert len(warnings) == 1, out.err
    assert str(other) in warnings[0] and 'my-net_in1k.py' in warnings[0]
    assert 'matches no metafile entry' in warnings[0]
    assert str(other) in out.out  # listed under the table, too


def test_empty_work_dir_is_a_clear_error(runs, tmp_path, capsys):
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(SystemExit) as exc:
        paper_table.main([str(runs['cls']), str(empty)])
    msg = str(exc.value)
    assert f'{empty}: no test results found' in msg and str(runs['cls']) not in msg
    assert 'metrics.json' in msg and '<timestamp>/<timestamp>.json' in msg
    assert '| Model |' not in capsys.readouterr().out


META = """\
Collections:
- Name: X
Models:
- Name: x-s_in1k
  In Collection: X
  Config: configs/x/x-s_in1k.py
  Results:
  - Task: Image Classification
    Dataset: ImageNet-1k
    Metrics: {Top 1 Accuracy: 80.0, Top 5 Accuracy: 95.0}
  HVT:
    Official: {Name: x-s_official, Metrics: {Top 1 Accuracy: 80.4}}
- Name: upernet_x-s_ade20k
  In Collection: X
  Config: configs/x/upernet_x-s_ade20k.py
  Results:
  - {Task: Semantic Segmentation, Dataset: ADE20K, Metrics: {mIoU: 48.0}}
- Name: mask-rcnn_x-s_coco
  In Collection: X
  Config: configs/x/mask-rcnn_x-s_coco.py
  Results:
  - {Task: Object Detection, Dataset: COCO, Metrics: {box AP: 46.0}}
"""


def _record(folder, config, checkpoint, metrics):
    folder.mkdir(exist_ok=True)
    (folder / 'metrics.json').write_text(json.dumps(dict(
        config=config, checkpoint=checkpoint, timestamp='20260101_000000', metrics=metrics)))
    return str(folder)


def test_metric_names_scales_order_and_missing_paper(tmp_path, capsys):
    """mmdet's fractions in percent, rows in metafile order whatever the order of the work dirs,
    '–' where the paper has no number (records as tools/test.py writes them)."""
    meta = tmp_path / 'metafile.yml'
    meta.write_text(META)
    det = _record(tmp_path / 'det', '/c/mask-rcnn_x-s_coco.py', 'a.pth',
                  {'coco/bbox_mAP': 0.456, 'coco/segm_mAP': 0.4, 'coco/bbox_mAP_50': 0.7})
    seg = _record(tmp_path / 'seg', '/c/upernet_x-s_ade20k.py', 'b.pth',
                  {'mIoU': 47.25, 'aAcc': 80.0})
    out_md = tmp_path / 't.md'
    rows = paper_table.main([det, seg, '--metafile', str(meta), '--out-md', str(out_md)])
    got = [(r['model'], r['metric'], r['paper'], round(r['hvt'], 6), r['dataset']) for r in rows]
    assert got == [('upernet_x-s_ade20k', 'mIoU', 48.0, 47.25, 'ADE20K'),
                   ('mask-rcnn_x-s_coco', 'box AP', 46.0, 45.6, 'COCO'),
                   ('mask-rcnn_x-s_coco', 'mask AP', None, 40.0, 'COCO')]
    table = _table(out_md.read_text())
    assert table[('upernet_x-s_ade20k', 'mIoU')] == ('48', '47.25', '-0.8')
    assert table[('mask-rcnn_x-s_coco', 'box AP')] == ('46', '45.60', '-0.4')
    assert table[('mask-rcnn_x-s_coco', 'mask AP')] == ('–', '40.00', '–')
    assert capsys.readouterr().err == ''


def test_official_checkpoint_uses_official_metrics(runs, tmp_path, capsys):
    """``official:NAME`` matches ``HVT.Official.Name``; ``HVT.Official.Metrics`` overrides the
    paper's number for such a run only."""
    meta = tmp_path / 'metafile.yml'
    meta.write_text(META)
    work = tmp_path / 'official'
    shutil.copytree(runs['cls'], work)
    record = json.loads((work / 'metrics.json').read_text())
    measured = record['metrics']
    for ckpt, top1 in (('official:x-s_official', 80.4), ('/some/where/x.pth', None)):
        record.update(checkpoint=ckpt, config='/any/x-s_in1k.py' if top1 is None else
                      '/any/renamed.py')
        (work / 'metrics.json').write_text(json.dumps(record))
        rows = {(r['model'], r['metric']): r
                for r in paper_table.main([str(work), '--metafile', str(meta)])}
        assert rows[('x-s_in1k', 'Top 1 Accuracy')]['paper'] == (top1 or 80.0)
        assert rows[('x-s_in1k', 'Top 5 Accuracy')]['paper'] == 95.0
        assert rows[('x-s_in1k', 'Top 1 Accuracy')]['hvt'] == measured['accuracy/top1']
    capsys.readouterr()
