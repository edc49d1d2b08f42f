# ViTAEv2-48M, ImageNet-1k from scratch at 224.
# Paper row: Table 3 "ViTAEv2-48M" 48.5M (code: 48,674,632 params) / 13.3 GFLOPs / 83.8 top-1.
# Recipe: the ViTAEv2-S recipe (docs/design/vitae.md#imagenet-training-recipe) with
# training_scripts/ViTAEv2_48M.sh:
# 16 GPUs x 64 (total 1024, lr 1e-3), weight decay 0.055, drop path 0.25.
_base_ = ['./vitaev2-s_8xb128_in1k.py']

model = dict(backbone=dict(arch='48m', drop_path_rate=0.25), head=dict(in_channels=768))
train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(weight_decay=0.055))
