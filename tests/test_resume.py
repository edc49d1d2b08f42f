"""Reliability of long runs: safe resume under torch >= 2.6, exact continuation, crash-safe saves.

All runs go through the real tools/train.py with the demo config (a narrowed ViTAEv2) on the tiny
shapes data.
"""
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from hvt.engine import atomic_write, register_safe_globals
from toolkit import ROOT, cls_smoke_options, logged_losses, run_tool

CONFIG = 'configs/demo/vitaev2-demo_shapes.py'


def _opts(tiny_data, work, **kw):
    return cls_smoke_options(tiny_data, work, img_size=32, batch_size=16, config=CONFIG, **kw) + [
        'randomness.deterministic=True', 'train_dataloader.dataset.data_root=' +
        str(tiny_data / 'imagenet'), 'val_dataloader.dataset.data_root=' +
        str(tiny_data / 'imagenet'), 'test_dataloader.dataset.data_root=' +
        str(tiny_data / 'imagenet')]


def _load(path):
    register_safe_globals()
    return torch.load(path, map_location='cpu', weights_only=True)


def _assert_same_state(a, b):
    assert a['meta']['epoch'] == b['meta']['epoch'] and a['meta']['iter'] == b['meta']['iter']
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for k in a['state_dict']:
        assert torch.equal(a['state_dict'][k], b['state_dict'][k]), f'weights differ at {k}'
    sa, sb = a['optimizer']['state'], b['optimizer']['state']
    assert sa.keys() == sb.keys() and len(sa) > 0
    for i in sa:
        for k in sa[i]:
            assert torch.equal(torch.as_tensor(sa[i][k]), torch.as_tensor(sb[i][k])), \
                f'optimizer state {i}.{k} differs'


def _epoch_losses(log, epoch):
    """Losses printed for training iterations of ``epoch`` (mmengine's 'Epoch(train) [e]' lines)."""
    lines = [line for line in log.splitlines() if f'Epoch(train)  [{epoch}]' in line
             or f'Epoch(train) [{epoch}]' in line]
    return logged_losses('\n'.join(lines))


def test_resume_continues_exactly_epoch_based(tiny_data, tmp_path):
    full, part = tmp_path / 'full', tmp_path / 'part'
    log_full = run_tool('train.py', CONFIG, '--cfg-options', *_opts(tiny_data, full, epochs=2))
    run_tool('train.py', CONFIG, '--cfg-options', *_opts(tiny_data, part, epochs=1))
    assert (part / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')
    log_resumed = run_tool('train.py', CONFIG, '--resume', '--cfg-options',
                           *_opts(tiny_data, part, epochs=2))
    # it restarted from epoch_1.pth (not from scratch) and trained epoch 2 only
    iters_per_epoch = _load(part / 'epoch_1.pth')['meta']['iter']
    assert f"Auto resumed from the latest checkpoint {part / 'epoch_1.pth'}." in log_resumed
    assert f'resumed epoch: 1, iter: {iters_per_epoch}' in log_resumed
    assert _epoch_losses(log_resumed, 1) == []
    _assert_same_state(_load(full / 'epoch_2.pth'), _load(part / 'epoch_2.pth'))
    losses_full, losses_resumed = _epoch_losses(log_full, 2), _epoch_losses(log_resumed, 2)
    assert len(losses_resumed) == iters_per_epoch > 0 and losses_full == losses_resumed


ITER_CONFIG = """
_base_ = ['{base}']
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters={iters}, val_interval=100)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=3))
log_processor = dict(by_epoch=False)
"""


def test_resume_continues_exactly_iteration_based(tiny_data, tmp_path):
    def cfg(iters):
        path = tmp_path / f'iter{iters}.py'
        path.write_text(ITER_CONFIG.format(base=os.path.join(ROOT, CONFIG), iters=iters))
        return str(path)

    def opts(work):
        return [o for o in _opts(tiny_data, work) if not o.startswith('train_cfg.')]

    full, part = tmp_path / 'full', tmp_path / 'part'
    log_full = run_tool('train.py', cfg(6), '--cfg-options', *opts(full))
    run_tool('train.py', cfg(3), '--cfg-options', *opts(part))
    log_resumed = run_tool('train.py', cfg(6), '--resume', '--cfg-options', *opts(part))
    assert 'Advance dataloader 3 steps' in log_resumed
    _assert_same_state(_load(full / 'iter_6.pth'), _load(part / 'iter_6.pth'))
    # iterations 4..6 logged the same losses
    assert logged_losses(log_full)[3:] == logged_losses(log_resumed)
    assert len(logged_losses(log_resumed)) == 3


def test_checkpoint_needs_allow_list_and_nothing_more(tiny_data, tmp_path):
    work = tmp_path / 'w'
    run_tool('train.py', CONFIG, '--cfg-options', *_opts(tiny_data, work, epochs=1))
    ckpt = str(work / 'epoch_1.pth')
    probe = textwrap.dedent(f"""
        import torch, sys
        try:
            torch.load({ckpt!r}, weights_only=True)
        except Exception as e:
            print('PLAIN-FAIL', type(e).__name__, e)
        import hvt.engine
        ck = torch.load({ckpt!r}, weights_only=True)
        print('SAFE-OK', sorted(ck))
    """)
    out = subprocess.run([sys.executable, '-c', probe], cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    assert 'SAFE-OK' in out.stdout, out.stderr[-3000:]
    if hasattr(torch.serialization, 'add_safe_globals'):  # torch >= 2.4: weights_only matters
        assert 'PLAIN-FAIL' in out.stdout and 'HistoryBuffer' in out.stdout


KILL_ON_SAVE = """
import os, signal
_fsync = os.fsync

def fsync(fd):
    target = os.readlink(f'/proc/self/fd/{fd}') if os.path.exists(f'/proc/self/fd/{fd}') else ''
    if os.environ.get('HVT_KILL_ON') and os.environ['HVT_KILL_ON'] in target:
        os.kill(os.getpid(), signal.SIGKILL)  # die after writing, before the rename
    return _fsync(fd)

os.fsync = fsync
"""


def test_killed_while_saving_keeps_previous_checkpoint(tiny_data, tmp_path):
    (tmp_path / 'inject').mkdir()
    (tmp_path / 'inject' / 'sitecustomize.py').write_text(KILL_ON_SAVE)
    work = tmp_path / 'w'
    opts = _opts(tiny_data, work, epochs=2) + ['default_hooks.checkpoint.max_keep_ckpts=1']
    env = dict(PYTHONPATH=f'{tmp_path / "inject"}{os.pathsep}{ROOT}', HVT_KILL_ON='epoch_2.pth')
    out = run_tool('train.py', CONFIG, '--cfg-options', *opts, env=env, check=False)
    assert 'Saving checkpoint at 2 epochs' in out  # killed during the second save
    assert not (work / 'epoch_2.pth').exists()
    assert (work / 'last_checkpoint').read_text().strip() == str(work / 'epoch_1.pth')
    assert _load(work / 'epoch_1.pth')['meta']['epoch'] == 1  # complete, loadable
    # --resume (auto) continues from it and finishes
    out = run_tool('train.py', CONFIG, '--resume', '--cfg-options', *opts)
    assert _load(work / 'epoch_2.pth')['meta']['epoch'] == 2
    assert not (work / 'epoch_1.pth').exists()  # max_keep_ckpts=1 still honoured, after the save
    assert 'removed the unfinished save .epoch_2.pth.' in out  # the killed save's temp file
    assert not [p for p in os.listdir(work) if p.endswith('.hvt-partial')]


def test_atomic_write_failure_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / 'ckpt.pth'
    target.write_bytes(b'old complete checkpoint')

    def broken_fsync(fd):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'fsync', broken_fsync)
    with pytest.raises(OSError, match='disk full'):
        atomic_write(b'new', str(target))
    assert target.read_bytes() == b'old complete checkpoint'
    assert os.listdir(tmp_path) == ['ckpt.pth']  # no temporary file left behind


def test_same_seed_deterministic_runs_are_bit_identical(tiny_data, tmp_path):
    """``randomness.seed=S randomness.deterministic=True`` twice (two processes): identical
    weights, optimizer state and logged losses after an epoch of random init + augmentation."""
    def train(name):
        work = tmp_path / name
        log = run_tool('train.py', CONFIG, '--cfg-options', *_opts(tiny_data, work, epochs=1),
                       'randomness.seed=7', 'randomness.deterministic=True')
        assert 'seed: 7' in log and 'deterministic: True' in log
        return _load(work / 'epoch_1.pth'), _epoch_losses(log, 1)

    ckpt_a, losses_a = train('a')
    ckpt_b, losses_b = train('b')
    _assert_same_state(ckpt_a, ckpt_b)
    assert len(losses_a) >= 6 and len(set(losses_a)) > 1 and losses_a == losses_b
