"""Fully sharded training (mmengine ``FlexibleRunner`` + ``FSDPStrategy``) for the largest variants.

A config opts in with ``runner_type = 'FlexibleRunner'`` (or just a ``strategy``), e.g.::

    strategy = dict(
        type='hvt.FSDPStrategy',
        model_wrapper=dict(auto_wrap_policy=dict(type='hvt.layer_auto_wrap_policy',
                                                 layer_cls=['NormalCell'])),
        state_dict_cfg='full')

``tools/train.py`` then builds mmengine's ``FlexibleRunner`` (:func:`runner_class`). Each listed
block class becomes one FSDP unit: its parameters are gathered just before it runs and freed
after, so only one block's full weights live on a device at a time. Activation checkpointing
comes from the backbones' own ``with_cp=True``. ``hvt.FSDPStrategy`` is mmengine's with exact,
atomic, world-size-independent checkpoints and weight decay by true parameter rank (see
:class:`FSDPStrategy`).
"""
import io
import time
from typing import Callable, Optional

import mmengine
import torch
from mmengine._strategy import FSDPStrategy as _MMEngineFSDPStrategy
from mmengine.dist import is_main_process

from hvt.engine.safe_checkpoint import atomic_write
from hvt.registry import FUNCTIONS, STRATEGIES

try:  # torch >= 2.2
    import torch.distributed.checkpoint.state_dict  # noqa: F401
    _HAS_DCP_STATE_DICT = True
except ImportError:
    _HAS_DCP_STATE_DICT = False

WRAPPER_PREFIXES = ('_fsdp_wrapped_module.', '_checkpoint_wrapped_module.')


@FUNCTIONS.register_module()
def layer_auto_wrap_policy(module, recurse: bool, nonwrapped_numel: int, layer_cls=()) -> bool:
    """FSDP auto-wrap policy: wrap every module whose class name is in ``layer_cls`` (names, so
    a config can list them: ``['NormalCell']``, ``['HiViTBlock']``, ``['FastiTPNBlock']``)."""
    if recurse:
        return True
    return type(module).__name__ in set(layer_cls)


@STRATEGIES.register_module()
class FSDPStrategy(_MMEngineFSDPStrategy):
    """mmengine 0.10.7's FSDPStrategy with exact, world-size-independent checkpoints:

    * checkpoints (``state_dict_cfg='full'``) go through ``torch.distributed.checkpoint``'s
      ``get_*_state_dict`` / ``set_*_state_dict`` (torch >= 2.2; ``FSDP.optim_state_dict`` with
      keyword arguments on 2.1): full tensors keyed by parameter name, in an ordinary ``.pth``
      that ``tools/test.py`` reads and that resumes on any number of processes;
    * the CPU-offload option of the full-state gather is used only when the model lives on an
      accelerator. On the CPU, FSDP's optimizer-state gather returns every state of a parameter
      as a view of one reused all-gather buffer (``.cpu()`` of a CPU tensor copies nothing), so
      ``exp_avg`` came back holding ``exp_avg_sq``'s values; without the offload FSDP clones each
      state. :func:`check_distinct_states` refuses any such aliased state before it is written;
    * the checkpoint file is written atomically (temporary file, fsync, rename), as
      ``hvt.SafeCheckpointHook`` does for the plain Runner (``FlexibleRunner`` does not pass the
      hook's file backend on to the strategy);
    * the model carries ``hvt_param_ndims`` (each parameter's rank before sharding), so
      layer decay puts weights in the decay groups (after sharding every parameter is 1-D).
    """

    def _wrap_model(self, model):
        # FSDP turns every original parameter into a flat (1-D or empty) view of its shard, so
        # rules such as "no weight decay for 1-D parameters" would see only 1-D tensors. Keep the
        # real ranks for the optimizer constructors (see LayerDecayOptimWrapperConstructor).
        # (set on the inner model: optimizer constructors unwrap ``.module``)
        model.hvt_param_ndims = {n: p.ndim for n, p in model.named_parameters()}
        return super()._wrap_model(model)

    # -- full state dicts -------------------------------------------------------------------

    def _offload(self) -> bool:
        """Gather to rank 0's CPU memory only when the shards are on an accelerator (see the
        class doc: on the CPU the offloading gather aliases the optimizer states)."""
        return any(p.device.type != 'cpu' for p in self.model.parameters())

    def _options(self, **kwargs):
        from torch.distributed.checkpoint.state_dict import StateDictOptions
        return StateDictOptions(full_state_dict=True, cpu_offload=self._offload(), **kwargs)

    def model_state_dict(self) -> dict:
        if not self._is_full_state_dict():
            return super().model_state_dict()
        if _HAS_DCP_STATE_DICT:
            from torch.distributed.checkpoint.state_dict import get_model_state_dict
            return get_model_state_dict(self.model, options=self._options())
        with self._full_state_dict_type():
            return self.model.state_dict()

    def optim_state_dict(self) -> dict:
        if not self._is_full_state_dict():
            return super().optim_state_dict()
        optimizer = self.optim_wrapper.optimizer
        if _HAS_DCP_STATE_DICT:
            from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict
            state = get_optimizer_state_dict(self.model, optimizer, options=self._options())
        else:
            from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
            with self._full_state_dict_type():
                state = FSDP.optim_state_dict(self.model, optimizer)
        if state:  # empty on ranks other than 0 when offloading
            check_distinct_states(state)
            # what the wrapper adds to the optimizer's state (AmpOptimWrapper: loss scaler)
            for key, value in self.optim_wrapper.state_dict().items():
                if key not in ('state', 'param_groups'):
                    state[key] = value
        return state

    def load_model_state_dict(self, state_dict: dict, *, strict: bool = False,
                              revise_keys: list = [(r'^module.', '')]) -> None:  # noqa: B006
        if not self._is_full_state_dict():
            return super().load_model_state_dict(state_dict, strict=strict)
        if _HAS_DCP_STATE_DICT:
            from torch.distributed.checkpoint.state_dict import set_model_state_dict
            set_model_state_dict(self.model, state_dict, options=self._options(strict=strict))
        else:
            with self._full_state_dict_type():
                self.model.load_state_dict(state_dict, strict=strict)

    def load_optim_state_dict(self, state_dict: dict) -> None:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        optimizer = self.optim_wrapper.optimizer
        if not self._is_full_state_dict():  # per-rank files: mmengine's way, with keywords
            # (mmengine passes torch 2.0's positional order, which torch >= 2.1 rejects)
            self.optim_wrapper.load_state_dict(FSDP.optim_state_dict_to_load(
                model=self.model, optim=optimizer, optim_state_dict=state_dict))
            return
        if _HAS_DCP_STATE_DICT:
            from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict
            # every rank read the whole checkpoint; each keeps its own shard of every state
            set_optimizer_state_dict(self.model, optimizer,
                                     {k: state_dict[k] for k in ('state', 'param_groups')},
                                     options=self._options())
        else:
            with self._full_state_dict_type():
                optimizer.load_state_dict(FSDP.optim_state_dict_to_load(
                    model=self.model, optim=optimizer, optim_state_dict=state_dict))
        scaler = getattr(self.optim_wrapper, 'loss_scaler', None)
        if 'loss_scaler' in state_dict and hasattr(scaler, 'load_state_dict'):
            scaler.load_state_dict(state_dict['loss_scaler'])

    def _full_state_dict_type(self):
        from torch.distributed.fsdp import FullOptimStateDictConfig, FullStateDictConfig
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        from torch.distributed.fsdp import StateDictType
        offload = self._offload()
        return FSDP.state_dict_type(
            self.model, StateDictType.FULL_STATE_DICT,
            FullStateDictConfig(offload_to_cpu=offload, rank0_only=offload),
            FullOptimStateDictConfig(offload_to_cpu=offload, rank0_only=offload))

    def save_checkpoint(self, filename: str, *, save_optimizer: bool = True,
                        save_param_scheduler: bool = True, extra_ckpt: Optional[dict] = None,
                        callback: Optional[Callable] = None) -> None:
        """The layout of mmengine's full FSDP checkpoint (``state_dict``, ``optimizer``,
        ``param_schedulers``, ``meta``, extras), gathered on every rank, written by rank 0 in one
        atomic step when ``filename`` is a local path."""
        if not self._is_full_state_dict():
            return super().save_checkpoint(
                filename, save_optimizer=save_optimizer, extra_ckpt=extra_ckpt,
                save_param_scheduler=save_param_scheduler, callback=callback)
        checkpoint = dict(state_dict=self.model_state_dict())  # collective: all ranks
        if save_optimizer and hasattr(self, 'optim_wrapper'):
            checkpoint['optimizer'] = self.optim_state_dict()  # collective as well
        if save_param_scheduler and hasattr(self, 'param_schedulers'):
            checkpoint['param_schedulers'] = self.scheduler_state_dict()
        extra = dict(extra_ckpt or {})
        meta = dict(extra.get('meta') or {})
        meta.update(seed=self.seed, time=time.strftime('%Y%m%d_%H%M%S', time.localtime()),
                    mmengine=mmengine.__version__)
        extra['meta'] = meta
        checkpoint.update(extra)
        if callback is not None:  # the runner's before_save_checkpoint hooks
            callback(checkpoint)
        if not is_main_process():
            return
        if '://' in str(filename):  # object storage etc.: mmengine's writer
            from mmengine.runner.checkpoint import save_checkpoint
            save_checkpoint(checkpoint, filename)
            return
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        atomic_write(buffer.getvalue(), str(filename))


def check_distinct_states(optim_state: dict) -> None:
    """Refuse a gathered optimizer state in which two states of a parameter (``exp_avg`` and
    ``exp_avg_sq``) share memory: one of them would be saved holding the other's values."""
    for name, state in optim_state.get('state', {}).items():
        seen = {}
        for key, value in state.items():
            if not torch.is_tensor(value) or value.numel() == 0 or value.dim() == 0:
                continue
            ptr = value.data_ptr()
            if ptr in seen:
                raise RuntimeError(
                    f'FSDP optimizer state of {name}: {key!r} and {seen[ptr]!r} share memory, so '
                    'the checkpoint would hold one of them twice (torch\'s CPU-offloaded gather)')
            seen[ptr] = key


def clean_param_name(name: str) -> str:
    """The model's own parameter name, without the FSDP / checkpoint wrapper segments."""
    for p in WRAPPER_PREFIXES:
        name = name.replace(p, '')
    return name


def wants_flexible_runner(cfg) -> bool:
    return cfg.get('runner_type') == 'FlexibleRunner' or cfg.get('strategy') is not None


def runner_class(cfg):
    """mmengine's ``FlexibleRunner`` when the config asks for it, else its ``Runner`` (for
    training; ``tools/test.py`` evaluates the full checkpoints of FSDP runs with the Runner)."""
    if wants_flexible_runner(cfg):
        check_fsdp_launcher(cfg)
        from mmengine.runner import FlexibleRunner
        return FlexibleRunner
    from mmengine.runner import Runner
    return Runner


def check_fsdp_launcher(cfg) -> None:
    """FSDP shards over a process group: refuse a single-process start with the command to use."""
    strategy = cfg.get('strategy')
    if isinstance(strategy, dict) and 'FSDP' in strategy.get('type', '') and \
            cfg.get('launcher', 'none') == 'none':
        raise ValueError('this config trains with FSDPStrategy, which needs a distributed launch: '
                         'bash tools/dist_train.sh CONFIG NUM_PROCESSES (or --launcher pytorch '
                         'under torchrun / slurm)')


def setup_cpu_fsdp(cfg) -> None:
    """Without CUDA: FSDPStrategy passes ``device_id=LOCAL_RANK`` (a CUDA index) to FSDP; a CPU
    run needs ``device_id='cpu'``."""
    strategy = cfg.get('strategy')
    if isinstance(strategy, dict) and 'FSDP' in strategy.get('type', ''):
        wrapper = strategy.get('model_wrapper') or {}
        wrapper['device_id'] = 'cpu'
        strategy['model_wrapper'] = wrapper
