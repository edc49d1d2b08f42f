# Fast-iTPN-L fine-tuning with fully sharded data parallel: every FastiTPNBlock is one FSDP unit;
# with_cp recomputes block activations in the backward pass. Same recipe as
# fast-itpn-l_8xb128_in1k.py except the model EMA: mmengine's EMAHook copies the (sharded) module
# and saves rank 0's shard only, so it is left out here.
#   bash tools/dist_train.sh configs/fast_itpn/fast-itpn-l_8xb128-fsdp_in1k.py 8
_base_ = ['./fast-itpn-l_8xb128_in1k.py', '../_base_/fsdp_runtime.py']

model = dict(backbone=dict(with_cp=True))
strategy = dict(model_wrapper=dict(auto_wrap_policy=dict(layer_cls=['FastiTPNBlock'])))
custom_hooks = []
