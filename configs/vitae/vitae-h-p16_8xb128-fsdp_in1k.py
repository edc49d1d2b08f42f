# ViTAE-H (644 M) fine-tuning with fully sharded data parallel (mmengine FlexibleRunner +
# FSDPStrategy): every NormalCell is one FSDP unit, so each process holds 1/N of the weights,
# gradients and AdamW state plus one gathered cell at a time; with_cp recomputes each cell's
# activations in the backward pass. Same recipe as vitae-h-p16_8xb128_in1k.py otherwise.
#   bash tools/dist_train.sh configs/vitae/vitae-h-p16_8xb128-fsdp_in1k.py 8
# Checkpoints are full (rank 0 gathers them: state_dict_cfg='full'), so tools/test.py and
# load_from read them like any other. See docs/reliability.md (FSDP).
_base_ = ['./vitae-h-p16_8xb128_in1k.py']

runner_type = 'FlexibleRunner'
model = dict(backbone=dict(with_cp=True))
strategy = dict(
    type='hvt.FSDPStrategy',
    model_wrapper=dict(
        auto_wrap_policy=dict(type='hvt.layer_auto_wrap_policy', layer_cls=['NormalCell'])),
    state_dict_cfg='full')
