"""Kill a training run anywhere, resume it, and check that it ends exactly where an uninterrupted run
ends.

    python tools/misc/kill_test.py CONFIG [--kills 5] [--seed 0] [--nproc 1] [--work-dir DIR] \
        [--cfg-options key=value ...]

1. A reference run trains CONFIG to the end (``tools/train.py``, or ``tools/dist_train.sh`` with
   ``--nproc 2`` or more) and records when its first training iteration and its end came.
2. The killed run starts the same training with ``--resume`` and, once it has printed its first
   training iteration, gets SIGKILL (the whole process group: torchrun and every rank) after a
   delay drawn uniformly (seeded) from 0 to 2 / (kills + 1) of the reference's training time, so
   that the kills spread over the run: during an iteration, a checkpoint save or a validation. Where each kill landed is read from the
   last log line the run printed. After each kill, every checkpoint in the work dir must load, and
   ``last_checkpoint`` must name one of them. This repeats ``--kills`` times; then the run resumes
   and finishes.
3. The final checkpoint must equal the reference's bit for bit: weights, buffers and the optimizer
   state (AdamW moments included).

The exit code is 0 when every check holds. Deterministic training is needed for bit equality:
pass ``randomness.seed=0 randomness.deterministic=True`` (the default runtime's RNG-state hook does
the rest). Use small settings: every kill costs a restart.
"""
import argparse
import os
import os.path as osp
import random
import re
import signal
import socket
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

# the last log line of each kind tells where a run was when it died
PHASES = (('checkpoint save', re.compile(r'Saving checkpoint at')),
          ('validation', re.compile(r'Epoch\(val\)|Iter\(val\)')),
          ('iteration', re.compile(r'Epoch\(train\)|Iter\(train\)')))


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def command(config, work_dir, nproc, cfg_options, resume):
    extra = ['--work-dir', work_dir] + (['--resume'] if resume else [])
    if cfg_options:
        extra += ['--cfg-options', *cfg_options]
    if nproc > 1:
        return ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), config, str(nproc), *extra]
    return [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config, *extra]


def start(cmd, log_path):
    env = dict(os.environ, PYTHON=sys.executable, PYTHONUNBUFFERED='1', PORT=str(free_port()),
               PYTHONPATH=os.pathsep.join([ROOT, os.environ.get('PYTHONPATH', '')]))
    log = open(log_path, 'w')
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own process group: one kill takes all
    return proc, log


def read(path):
    with open(path, errors='replace') as f:
        return f.read()


def phase_of(text):
    """Where a run was when it died: the kind of its last telling log line."""
    last, where = -1, 'start-up'
    for name, pattern in PHASES:
        for m in pattern.finditer(text):
            if m.start() > last:
                last, where = m.start(), name
    return where


def reference_run(args, work):
    """Train to the end; returns (seconds to the first iteration, seconds to the end)."""
    log_path = osp.join(work, 'reference.log')
    t0 = time.monotonic()
    proc, log = start(command(args.config, osp.join(work, 'reference'), args.nproc,
                              args.cfg_options, False), log_path)
    first = None
    while proc.poll() is None:
        if first is None and PHASES[2][1].search(read(log_path)):
            first = time.monotonic() - t0
        time.sleep(0.05)
    log.close()
    if proc.returncode != 0:
        raise SystemExit(f'[kill_test] the reference run failed (exit {proc.returncode}):\n'
                         f'{read(log_path)[-4000:]}')
    end = time.monotonic() - t0
    return (first if first is not None else 0.0), end


def check_checkpoints(work_dir):
    """Every checkpoint loads, and ``last_checkpoint`` names an existing one; returns their
    names."""
    from hvt.engine.checkpoint_io import load_checkpoint_file
    names = sorted(f for f in os.listdir(work_dir) if f.endswith('.pth')) \
        if osp.isdir(work_dir) else []
    for name in names:
        load_checkpoint_file(osp.join(work_dir, name))  # raises, naming the file, if unreadable
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.exists(pointer):
        target = read(pointer).strip()
        if not osp.isfile(target):
            raise AssertionError(f'last_checkpoint names {target!r}, which does not exist')
    return names


def final_checkpoint(work_dir):
    return read(osp.join(work_dir, 'last_checkpoint')).strip()


def compare(ref_path, got_path):
    """The differences between two checkpoints (empty when bit-identical)."""
    import torch

    from hvt.engine.checkpoint_io import load_checkpoint_file
    a, b = load_checkpoint_file(ref_path), load_checkpoint_file(got_path)
    diffs = []
    if (a['meta'].get('epoch'), a['meta'].get('iter')) != (b['meta'].get('epoch'),
                                                             b['meta'].get('iter')):
        diffs.append(f'position: epoch/iter {a["meta"].get("epoch")}/{a["meta"].get("iter")} vs '
                     f'{b["meta"].get("epoch")}/{b["meta"].get("iter")}')
    for k, v in a['state_dict'].items():
        if k not in b['state_dict'] or not torch.equal(v, b['state_dict'][k]):
            diffs.append(f'state_dict.{k}')
    sa, sb = a['optimizer']['state'], b['optimizer']['state']
    for i, s in sa.items():
        for k, v in s.items():
            if i not in sb or not torch.equal(torch.as_tensor(v), torch.as_tensor(sb[i].get(k))):
                diffs.append(f'optimizer.state.{i}.{k}')
    return diffs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config')
    p.add_argument('--kills', type=int, default=5, help='how many times to kill (default 5)')
    p.add_argument('--seed', type=int, default=0, help='seed of the kill moments')
    p.add_argument('--nproc', type=int, default=1, help='processes (dist_train.sh if > 1)')
    p.add_argument('--work-dir', default='work_dirs/kill_test')
    p.add_argument('--cfg-options', nargs='+', default=[], help='passed to tools/train.py')
    args = p.parse_args(argv)
    work = osp.abspath(args.work_dir)
    os.makedirs(work, exist_ok=True)
    rng = random.Random(args.seed)

    first, end = reference_run(args, work)
    print(f'[kill_test] reference run: first iteration at {first:.1f} s, done at {end:.1f} s',
          flush=True)
    killed_dir = osp.join(work, 'killed')
    trials = []
    window = 2 * (end - first) / (args.kills + 1)
    for trial in range(1, args.kills + 1):
        delay = rng.uniform(0, window)
        log_path = osp.join(work, f'killed_{trial}.log')
        proc, log = start(command(args.config, killed_dir, args.nproc, args.cfg_options, True),
                          log_path)
        while proc.poll() is None and not PHASES[2][1].search(read(log_path)):
            time.sleep(0.02)  # start-up (imports, resume) is not what this test is about
        t0 = time.monotonic()
        while proc.poll() is None and time.monotonic() - t0 < delay:
            time.sleep(0.02)
        finished = proc.poll() is not None
        if not finished:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        where = 'none: the run had finished' if finished else phase_of(read(log_path))
        if finished and proc.returncode != 0:
            raise SystemExit(f'[kill_test] trial {trial}: the run failed by itself (exit '
                             f'{proc.returncode}):\n{read(log_path)[-4000:]}')
        names = check_checkpoints(killed_dir)
        trials.append((trial, delay, where, names))
        print(f'[kill_test] kill {trial}/{args.kills} {delay:.1f} s into training: {where}; '
              f'{len(names)} checkpoints, all readable', flush=True)
    log_path = osp.join(work, 'killed_final.log')
    proc, log = start(command(args.config, killed_dir, args.nproc, args.cfg_options, True),
                      log_path)
    proc.wait()
    log.close()
    if proc.returncode != 0:
        raise SystemExit(f'[kill_test] the final resume failed (exit {proc.returncode}):\n'
                         f'{read(log_path)[-4000:]}')
    if 'terminate called' in read(log_path):
        raise SystemExit('[kill_test] the final resume aborted at exit (terminate called)')
    check_checkpoints(killed_dir)
    ref, got = final_checkpoint(osp.join(work, 'reference')), final_checkpoint(killed_dir)
    diffs = compare(ref, got)
    landed = ', '.join(w for _, _, w, _ in trials)
    if diffs:
        print(f'[kill_test] FAIL: {osp.basename(got)} differs from the uninterrupted run at '
              f'{len(diffs)} places, e.g. {diffs[:5]}')
        return 1
    print(f'[kill_test] OK: after {len(trials)} kills ({landed}) the run ended bit-identical to '
          f'the uninterrupted one ({osp.basename(got)}: weights and optimizer state)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
