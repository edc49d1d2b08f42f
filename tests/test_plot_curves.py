"""tools/analysis/plot_curves.py turns mmengine's scalars.json into a PNG of loss, lr and metrics."""
import json

from toolkit import run_tool


def test_plot_curves_from_work_dir(tmp_path):
    vis = tmp_path / 'work' / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    records = [dict(loss=1.4 - 0.1 * i, lr=1e-3, step=i + 1) for i in range(10)]
    records += [{'accuracy/top1': 60.0, 'step': 1}, {'accuracy/top1': 97.5, 'step': 2}]
    (vis / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in records) + '\n')
    out = run_tool('analysis/plot_curves.py', tmp_path / 'work')
    png = tmp_path / 'work' / 'curves.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert '10 training records, 2 validations' in out
    assert 'accuracy/top1=97.5' in out


def test_plot_curves_names_missing_log(tmp_path):
    out = run_tool('analysis/plot_curves.py', tmp_path, check=False)
    assert 'scalars.json' in out and str(tmp_path) in out
