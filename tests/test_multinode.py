"""Multi-node launches as the README documents them, on this machine.

* ``NNODES=2 NODE_RANK=... MASTER_ADDR=127.0.0.1 bash tools/dist_train.sh CONFIG 1``: two "nodes" of
  one process each, started by the real script, end bit-identical to one node with 2 processes
  (the same two ranks, the same data shards, the same gloo all-reduce), and both exit 0.
* ``tools/slurm_train.sh``: a fake ``srun`` on ``PATH`` records the command line and environment
  it would run with.
"""
import os
import shlex
import socket
import subprocess
import sys

import pytest
import torch

from hvt.engine import register_safe_globals
from test_distributed import TINY_HIVIT
from toolkit import ROOT, cls_smoke_options

DIST_TRAIN = os.path.join(ROOT, 'tools', 'dist_train.sh')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _launch(cfg, nproc, opts, **env):
    full = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1', PYTHONPATH=ROOT,
                MASTER_ADDR='127.0.0.1', **env)
    return subprocess.Popen(['bash', DIST_TRAIN, str(cfg), str(nproc), '--cfg-options', *opts],
                            cwd=ROOT, env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_two_nodes_match_one_node_with_two_processes(tiny_data, tmp_path):
    cfg = tmp_path / 'tiny_hivit.py'
    cfg.write_text(TINY_HIVIT.format(base=os.path.join(ROOT, 'configs/demo/vitaev2-demo_shapes.py')))

    def opts(work):
        return [o for o in cls_smoke_options(tiny_data, work, img_size=32, batch_size=2,
                                             config=str(cfg))
                if 'pipeline' not in o] + ['train_cfg.val_interval=100']

    one = _launch(cfg, 2, opts(tmp_path / 'one_node'), PORT=str(free_port()))
    out_one = one.communicate(timeout=900)[0]
    assert one.returncode == 0, out_one[-4000:]

    port = str(free_port())
    nodes = [_launch(cfg, 1, opts(tmp_path / 'two_nodes'), NNODES='2', NODE_RANK=str(rank),
                     PORT=port) for rank in (0, 1)]
    outs = [p.communicate(timeout=900)[0] for p in nodes]
    for rank, (p, out) in enumerate(zip(nodes, outs)):
        assert p.returncode == 0, f'node {rank}:\n{out[-4000:]}'
        assert 'terminate called' not in out, f'node {rank}:\n{out[-4000:]}'
    assert 'world_size: 2' in outs[0] or 'Distributed launcher: pytorch' in outs[0]

    register_safe_globals()
    a = torch.load(tmp_path / 'one_node' / 'epoch_1.pth', weights_only=True)
    b = torch.load(tmp_path / 'two_nodes' / 'epoch_1.pth', weights_only=True)
    assert a['meta']['iter'] == b['meta']['iter'] > 1
    for k, v in a['state_dict'].items():
        assert torch.equal(b['state_dict'][k], v), k
    for i, s in a['optimizer']['state'].items():
        for name in ('exp_avg', 'exp_avg_sq'):
            assert torch.equal(b['optimizer']['state'][i][name], s[name]), (i, name)


def test_slurm_train_srun_command_line(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    record = tmp_path / 'srun.txt'
    srun = bin_dir / 'srun'
    srun.write_text('#!/usr/bin/env bash\n'
                    f'printf "%s\\n" "$@" > {shlex.quote(str(record))}\n'
                    f'echo "PYTHONPATH=$PYTHONPATH" >> {shlex.quote(str(record))}\n')
    srun.chmod(0o755)
    env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}', GPUS='16', GPUS_PER_NODE='8',
               CPUS_PER_TASK='6', SRUN_ARGS='--quotatype=auto', PYTHON='python3')
    config = 'configs/vitaev2/vitaev2-s_8xb128_in1k.py'
    proc = subprocess.run(['bash', os.path.join(ROOT, 'tools', 'slurm_train.sh'), 'gpu', 'job1',
                           config, 'work_dirs/x', '--amp', '--cfg-options', 'a=1'],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = record.read_text().splitlines()
    args, pythonpath = lines[:-1], lines[-1]
    assert args[:args.index('python3')] == [
        '-p', 'gpu', '--job-name=job1', '--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8',
        '--cpus-per-task=6', '--kill-on-bad-exit=1', '--quotatype=auto']
    assert args[args.index('python3'):] == [
        'python3', '-u', os.path.join(ROOT, 'tools', 'train.py'), config, '--work-dir=work_dirs/x',
        '--launcher=slurm', '--amp', '--cfg-options', 'a=1']
    assert pythonpath.startswith(f'PYTHONPATH={ROOT}')


@pytest.mark.parametrize('launcher,env', [
    ('slurm', dict(SLURM_PROCID='3', SLURM_NTASKS='8', SLURM_LOCALID='1', PORT='29611')),
    ('mpi', dict(OMPI_COMM_WORLD_RANK='3', OMPI_COMM_WORLD_SIZE='8',
                 OMPI_COMM_WORLD_LOCAL_RANK='1', PORT='29611')),
])
def test_cpu_launcher_maps_the_scheduler_variables(launcher, env, monkeypatch):
    """slurm / mpi ranks reach torch's env:// rendezvous (RANK, WORLD_SIZE, LOCAL_RANK, port)."""
    import torch.distributed as dist
    from mmengine.config import Config

    from hvt.engine.cli import setup_cpu_distributed
    for var in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_PORT', 'MASTER_ADDR'):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    seen = {}
    monkeypatch.setattr(dist, 'is_initialized', lambda: False)
    monkeypatch.setattr(dist, 'init_process_group', lambda **kw: seen.update(
        {k: os.environ.get(k) for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_PORT',
                                         'MASTER_ADDR')}, **kw))
    cfg = Config(dict(model=dict()))
    setup_cpu_distributed(cfg, launcher)
    assert seen == dict(RANK='3', WORLD_SIZE='8', LOCAL_RANK='1', MASTER_PORT='29611',
                        MASTER_ADDR='127.0.0.1', backend='gloo', init_method='env://')
    assert cfg.model_wrapper_cfg['device_ids'] is None
