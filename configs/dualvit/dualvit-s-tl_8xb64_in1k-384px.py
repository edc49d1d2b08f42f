# Dual-ViT-S fine-tuned at 384x384 from the 224 token-labeling model (paper Table 3).
# Paper: Dual-ViT-S 384: 25.1M params (exact 25,054,000), 18.4 GFLOPs, top-1 85.2 / top-5 97.3.
# Recipe ([P] 4.2 only, no official config; "follows VOLO"): AdamW, 35 epochs, cosine, 5 warm-up
# epochs, lr 8e-6, weight decay 1e-8. The semantic queries are bicubic-resized to the 13x13 pooled
# grid, so m = 169 semantic tokens at 384. The paper does not give the fine-tuning batch size;
# 8 x 64 is an assumption (auto_scale_lr refers to it), and so is the final lr of 0.
#
# Start from the 224 checkpoint:
#   --cfg-options load_from=work_dirs/dualvit-s-tl_8xb128_in1k/epoch_310.pth
# (or load_from=official:dualvit-s-tl_in1k, the official 224 model; official:dualvit-s-tl_in1k-384px
# is the official result of this fine-tuning).
#
# !!! LIKE THE 224 TOKEN-LABELING CONFIG, THIS NEEDS DENSE TOKEN-LABEL MAPS ('gt_token_label' on
# every sample; see dualvit-s-tl_8xb128_in1k.py). HVT does not ship them. Without them set
# model.head.aux_loss_weight=0 (class loss only; not the paper's recipe).
_base_ = [
    '../_base_/models/dualvit/dualvit-s.py',
    '../_base_/datasets/imagenet_bs64_swin_384.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(mix_token=True, drop_path_rate=0.15),
    head=dict(token_label=True, aux_loss_weight=0.5, aux_eval_weight=0.5,
              aux_label_smoothing=0.1),
)

train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=8e-6, weight_decay=1e-8, eps=1e-8, betas=(0.9, 0.999)),
    clip_grad=None,
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0., by_epoch=True, begin=5, end=35,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=35, val_interval=1)
auto_scale_lr = dict(base_batch_size=512)
