# Fully sharded data parallel (mmengine FlexibleRunner + hvt.FSDPStrategy), added on top of a
# leaf config: `_base_ = ['<leaf config>', '../_base_/fsdp_runtime.py']`, then name the block
# class that becomes one FSDP unit and turn on the backbone's activation checkpointing:
#   strategy = dict(model_wrapper=dict(auto_wrap_policy=dict(layer_cls=['NormalCell'])))
#   model = dict(backbone=dict(with_cp=True))
# Checkpoints are full (weights and optimizer state keyed by parameter name, written by rank 0),
# so tools/test.py and load_from read them like any other, and --resume is exact and works with
# any number of processes. See docs/reliability.md (FSDP).
runner_type = 'FlexibleRunner'
strategy = dict(
    type='hvt.FSDPStrategy',
    model_wrapper=dict(auto_wrap_policy=dict(type='hvt.layer_auto_wrap_policy', layer_cls=[])),
    state_dict_cfg='full')
