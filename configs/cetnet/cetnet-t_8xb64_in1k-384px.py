# CETNet-T fine-tuned at 384x384 (paper Table 1: 24M / 12.5G / 84.2).
# Paper: 30 epochs, lr 2e-5, batch 512 (8 x 64), no center crop at test. From Swin's 384 fine-tune
# [assumption]: 5 warm-up epochs from 2e-8, cosine to 2e-7, weight decay 1e-8, same drop path.
# Window stays 7 (padded) at 384 (docs/design/cetnet.md#window-size-at-384), so the 224 checkpoint
# loads without interpolation:
#   --cfg-options load_from=work_dirs/cetnet-t_8xb128_in1k/epoch_300.pth
_base_ = [
    '../_base_/models/cetnet/cetnet-t.py',
    '../_base_/datasets/imagenet_bs64_swin_384.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=2e-5, weight_decay=1e-8))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=2e-7, by_epoch=True, begin=5, end=30,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=1)
auto_scale_lr = dict(base_batch_size=512)
