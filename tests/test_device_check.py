"""tools/analysis/device_check.py on the CPU: one config per task, and the failure exit."""
import json

import pytest

from test_apis import DEMO_CONFIG, _write_config
from toolkit import config_path, run_tool

TOOL = 'analysis/device_check.py'
SMALL = ['--device', 'cpu', '--batch', '2', '--input-size', '64', '64']
# task: extra options (the 64-pixel input also reaches the seg padding and the pose heatmaps)
EXTRA = {
    'classification': ['--steps', '2', '--amp'],  # bf16 autocast train steps and eval
    'detection': ['--steps', '1'],
    'segmentation': ['--steps', '1', '--cfg-options', 'model.data_preprocessor.size=(64,64)'],
    'pose': ['--steps', '1', '--cfg-options', 'model.head.decoder.input_size=(64,64)',
             'model.head.decoder.heatmap_size=(16,16)'],
}


@pytest.mark.parametrize('task', sorted(EXTRA))
def test_device_check_passes_on_cpu(task, tmp_path):
    config = _write_config(task, tmp_path)
    report = tmp_path / 'report.json'
    out = run_tool(TOOL, config, *SMALL, '--json', report, *EXTRA[task])
    assert '[device_check] OK' in out, out[-3000:]
    r = json.loads(report.read_text())
    assert r['task'] == task and r['ok'] and r['finite']
    assert len(r['losses']) == int(EXTRA[task][1])
    assert r['cosine'] >= (0.99 if task == 'classification' else 0.999)
    assert r['train_img_per_s'] > 0 and r['eval_img_per_s'] > 0 and r['peak_memory_mib'] > 0
    assert r['attention'] == 'math/cpu-fused'
    assert r['compared'] == ('logits' if task == 'classification' else 'extract_feat features')


def test_device_check_fails_when_device_disagrees(tmp_path):
    """Weights perturbed on the device after the reference copy: exit 1, reported as FAILED."""
    out = run_tool(TOOL, config_path(DEMO_CONFIG), *SMALL, '--steps', '1',
                   '--self-test-perturb', '0.5', check='fail')
    assert '[device_check] FAILED' in out, out[-3000:]
    assert 'Traceback' not in out, out[-3000:]
