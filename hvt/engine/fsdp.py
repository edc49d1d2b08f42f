"""Fully sharded training (mmengine ``FlexibleRunner`` + ``FSDPStrategy``) for the largest variants.

A config opts in with ``runner_type = 'FlexibleRunner'`` (or just a ``strategy``), e.g.::

    strategy = dict(
        type='FSDPStrategy',
        model_wrapper=dict(auto_wrap_policy=dict(type='hvt.layer_auto_wrap_policy',
                                                 layer_cls=['NormalCell'])),
        state_dict_cfg='full')

``tools/train.py`` then builds mmengine's ``FlexibleRunner`` (:func:`runner_class`). Each listed
block class becomes one FSDP unit: its parameters are gathered just before it runs and freed
after, so only one block's full weights live on a device at a time. Activation checkpointing
comes from the backbones' own ``with_cp=True``.
"""
from hvt.registry import FUNCTIONS

WRAPPER_PREFIXES = ('_fsdp_wrapped_module.', '_checkpoint_wrapped_module.')


@FUNCTIONS.register_module()
def layer_auto_wrap_policy(module, recurse: bool, nonwrapped_numel: int, layer_cls=()) -> bool:
    """FSDP auto-wrap policy: wrap every module whose class name is in ``layer_cls`` (names, so
    a config can list them: ``['NormalCell']``, ``['HiViTBlock']``, ``['FastiTPNBlock']``)."""
    if recurse:
        return True
    return type(module).__name__ in set(layer_cls)


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
