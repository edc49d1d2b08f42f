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
comes from the backbones' own ``with_cp=True``. ``hvt.FSDPStrategy`` is mmengine's with two
fixes (see :class:`FSDPStrategy`).
"""
from mmengine._strategy import FSDPStrategy as _MMEngineFSDPStrategy
from mmengine.logging import MMLogger

from hvt.registry import FUNCTIONS, STRATEGIES

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
    """mmengine 0.10.7's FSDPStrategy with two fixes:

    * resume runs: mmengine passes ``FSDP.optim_state_dict_to_load`` its arguments in torch
      2.0's order (state dict first), which fails on torch >= 2.1 with ``TypeError: unhashable
      type: 'dict'``; keywords fit both signatures. Known limit: the AdamW moments do not come
      back exactly (see docs/reliability.md), so a resumed FSDP run continues close to, not
      bit-identical with, an uninterrupted one;
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

    def load_optim_state_dict(self, state_dict: dict) -> None:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        optim_state_dict = FSDP.optim_state_dict_to_load(
            model=self.model, optim=self.optim_wrapper.optimizer, optim_state_dict=state_dict)
        self.optim_wrapper.load_state_dict(optim_state_dict)
        MMLogger.get_current_instance().warning(
            'FSDP resume: the weights are restored exactly, the optimizer moments only '
            'approximately (measured on torch 2.14, CPU/gloo; see docs/reliability.md)')


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
