"""Crash-safe checkpoints.

mmengine writes a checkpoint with a plain ``open(path, 'wb')`` and deletes the oldest checkpoint
*before* writing the new one, so a job killed while saving can lose both. HVT fixes this in one
place:

* :class:`AtomicLocalBackend` (file backend ``'hvt_atomic'``): every ``put`` goes to a temporary
  file in the target directory, is flushed and fsynced, then atomically renamed over the target.
* :class:`SafeCheckpointHook` (``type='hvt.SafeCheckpointHook'``, the default in
  ``configs/_base_/default_runtime.py``): mmengine's ``CheckpointHook`` with that backend, and with
  the order *write checkpoint -> move the ``last_checkpoint`` pointer (atomically) -> delete the
  stale checkpoint*. A kill at any moment leaves a complete checkpoint that the pointer names, so
  ``--resume`` (auto) continues from the last complete one.
"""
import os
import os.path as osp
import tempfile
from typing import Union

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook

from hvt.registry import HOOKS

ATOMIC_BACKEND = 'hvt_atomic'
TMP_SUFFIX = '.hvt-partial'


def atomic_write(data: Union[bytes, str], path: str) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""
    path = osp.abspath(path)
    folder = osp.dirname(path)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode('utf-8')
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix=TMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


@register_backend(ATOMIC_BACKEND, force=True)
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes are atomic (see :func:`atomic_write`)."""

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(obj, str(filepath))

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write(obj.encode(encoding), str(filepath))


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` that never leaves a half-written checkpoint or a dangling pointer.

    Takes exactly mmengine's ``CheckpointHook`` arguments. Without ``backend_args`` it writes
    local files through :class:`AtomicLocalBackend`; with explicit ``backend_args`` (e.g. object
    storage) those are used as given.
    """

    def __init__(self, *args, backend_args=None, file_client_args=None, **kwargs):
        if backend_args is None and file_client_args is None:
            backend_args = dict(backend=ATOMIC_BACKEND)
        super().__init__(*args, backend_args=backend_args, file_client_args=file_client_args,
                         **kwargs)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        # A job killed mid-save leaves its temporary file behind (never a checkpoint): clear it.
        if is_main_process() and isinstance(self.file_backend, LocalBackend) \
                and osp.isdir(self.out_dir):
            for name in os.listdir(self.out_dir):
                if name.startswith('.') and name.endswith(TMP_SUFFIX):
                    os.remove(osp.join(self.out_dir, name))
                    runner.logger.info(f'removed the unfinished save {name} of an earlier run')

    def _save_checkpoint_with_step(self, runner, step, meta):
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        stale_step = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale_step = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        runner.save_checkpoint(
            self.out_dir, ckpt_filename, self.file_client_args,
            save_optimizer=self.save_optimizer, save_param_scheduler=self.save_param_scheduler,
            meta=meta, by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)

        if not is_main_process():
            return
        # Only now that the new checkpoint is complete: move the pointer, then drop the stale file.
        atomic_write(self.last_ckpt, osp.join(runner.work_dir, 'last_checkpoint'))
        if stale_step is not None:
            stale = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(stale_step))
            if self.file_backend.isfile(stale):
                self.file_backend.remove(stale)
            elif self.file_backend.isdir(stale):
                self.file_backend.rmtree(stale)
