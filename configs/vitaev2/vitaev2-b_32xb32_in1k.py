# ViTAEv2-B, ImageNet-1k from scratch at 224.
# Paper row: Table 3 "ViTAEv2-B" 89.7M (code: 89,693,352 params) / 24.3 GFLOPs / 84.6 top-1.
# Recipe: the ViTAEv2-S recipe (docs/design/vitae.md#imagenet-training-recipe) with
# training_scripts/ViTAEv2_B.sh:
# 32 GPUs x 32 (total 1024, lr 1e-3), weight decay 0.065, drop path 0.4, dropout 0.1 (NCs),
# gradient clipping at norm 5.0.
_base_ = ['./vitaev2-s_8xb128_in1k.py']

model = dict(backbone=dict(arch='b', drop_path_rate=0.4, drop_rate=0.1),
             head=dict(in_channels=1024))
train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=32)
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(weight_decay=0.065), clip_grad=dict(_delete_=True, max_norm=5.0))
