# Fast-iTPN-L fine-tuning with fully sharded data parallel (mmengine FlexibleRunner +
# FSDPStrategy): every FastiTPNBlock is one FSDP unit; with_cp recomputes block activations in
# the backward pass. Same recipe as fast-itpn-l_8xb128_in1k.py except the model EMA: mmengine's
# EMAHook copies the (sharded) module and saves rank 0's shard only, so it is left out here.
#   bash tools/dist_train.sh configs/fast_itpn/fast-itpn-l_8xb128-fsdp_in1k.py 8
# Checkpoints are full (state_dict_cfg='full'). See docs/reliability.md (FSDP).
_base_ = ['./fast-itpn-l_8xb128_in1k.py']

runner_type = 'FlexibleRunner'
model = dict(backbone=dict(with_cp=True))
strategy = dict(
    type='hvt.FSDPStrategy',
    model_wrapper=dict(
        auto_wrap_policy=dict(type='hvt.layer_auto_wrap_policy', layer_cls=['FastiTPNBlock'])),
    state_dict_cfg='full')
custom_hooks = []
