"""Kill anywhere (tools/misc/kill_test.py): SIGKILL a training run at seeded random moments, resume
it, and end bit-identical to an uninterrupted run; every checkpoint stays readable. Once for a
plain run and once for 2 processes (tools/dist_train.sh over gloo)."""
import os
import re
import sys

import pytest
import torch

from test_distributed import TINY_HIVIT
from toolkit import ROOT, cls_smoke_options, run_tool

sys.path.insert(0, os.path.join(ROOT, 'tools', 'misc'))
import kill_test  # noqa: E402


@pytest.mark.parametrize('nproc', [1, 2])
def test_killed_runs_resume_exactly(nproc, tiny_data, tmp_path):
    cfg = tmp_path / 'tiny_hivit.py'
    cfg.write_text(TINY_HIVIT.format(base=os.path.join(ROOT, 'configs/demo/vitaev2-demo_shapes.py')))
    opts = [o for o in cls_smoke_options(tiny_data, tmp_path / 'unused', img_size=32,
                                         batch_size=8 // nproc, epochs=3, config=str(cfg))
            if 'pipeline' not in o and not o.startswith('work_dir=')]
    opts += ['randomness.deterministic=True', 'train_dataloader.dataset.indices=32',
             'val_dataloader.dataset.indices=16']
    kills = 3
    out = run_tool('misc/kill_test.py', cfg, '--kills', kills, '--seed', 0, '--nproc', nproc,
                   '--work-dir', tmp_path / 'kill', '--cfg-options', *opts, timeout=1500)
    lines = re.findall(r'\[kill_test\] kill (\d)/3 [0-9.]+ s into training: ([a-z :]+); '
                       r'(\d+) checkpoints, all readable', out)
    assert [int(n) for n, _, _ in lines] == list(range(1, kills + 1)), out[-3000:]
    assert all(w in ('start-up', 'iteration', 'validation', 'checkpoint save',
                     'none: the run had finished') for _, w, _ in lines), lines
    assert 'the run ended bit-identical to the uninterrupted one (epoch_3.pth' in out, out[-3000:]


def test_compare_names_every_difference(tmp_path):
    """The final check can fail: one changed weight and one changed moment are both reported."""
    sd = {'w': torch.ones(3), 'b': torch.zeros(2)}
    opt = {'state': {0: {'exp_avg': torch.ones(3), 'exp_avg_sq': torch.ones(3)}}}
    a = dict(meta=dict(epoch=3, iter=12), state_dict=sd, optimizer=opt)
    torch.save(a, tmp_path / 'a.pth')
    b = dict(meta=dict(epoch=3, iter=12), state_dict=dict(sd, b=torch.tensor([0.0, 1e-7])),
             optimizer={'state': {0: {'exp_avg': torch.ones(3),
                                      'exp_avg_sq': torch.tensor([1.0, 1.0, 1.0 + 1e-6])}}})
    torch.save(b, tmp_path / 'b.pth')
    assert kill_test.compare(str(tmp_path / 'a.pth'), str(tmp_path / 'a.pth')) == []
    assert kill_test.compare(str(tmp_path / 'a.pth'), str(tmp_path / 'b.pth')) == [
        'state_dict.b', 'optimizer.state.0.exp_avg_sq']
    assert kill_test.phase_of('Epoch(train) [1][2/4]\nSaving checkpoint at 1 epochs') == \
        'checkpoint save'
    assert kill_test.phase_of('Saving checkpoint at 1 epochs\nEpoch(val) [1][1/2]') == 'validation'
