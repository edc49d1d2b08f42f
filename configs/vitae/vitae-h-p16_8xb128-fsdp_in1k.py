# ViTAE-H (644 M) fine-tuning with fully sharded data parallel: every NormalCell is one FSDP unit,
# so each process holds 1/N of the weights, gradients and AdamW state plus one gathered cell at a
# time; with_cp recomputes each cell's activations in the backward pass. Same recipe as
# vitae-h-p16_8xb128_in1k.py otherwise.
#   bash tools/dist_train.sh configs/vitae/vitae-h-p16_8xb128-fsdp_in1k.py 8
_base_ = ['./vitae-h-p16_8xb128_in1k.py', '../_base_/fsdp_runtime.py']

model = dict(backbone=dict(with_cp=True))
strategy = dict(model_wrapper=dict(auto_wrap_policy=dict(layer_cls=['NormalCell'])))
