# Fast-iTPN-B, ImageNet-1k fine-tuning at 224 (docs/design/itpn.md#fast-itpn-backbone,
# docs/design/itpn.md#imagenet-fine-tuning-recipes).
# Paper (Tian et al., Fast-iTPN, Table IV): 85.2 M params printed (code-derived, with head:
# see tests/test_fast_itpn.py), top-1 87.4 after 1600-epoch CLIP-L-target pre-training.
# Recipe [paper Sec. 4.2 + official code]: AdamW lr 1e-4 at batch 1024, weight decay 0.05, 20 epochs
# with
# 3 warm-up epochs from 1e-6, cosine to 1e-6, layer decay 0.90 (official numbering: the merges
# count, not rescaled), drop path 0.1, Mixup 0.8 / CutMix 1.0, label smoothing 0.1, random erasing
# 0.25, model EMA 0.9999.
# Fine-tuning starts from a pre-trained backbone: init_cfg below names the official CLIP-L-distilled
# 1600-epoch model (official:..., fetched on first use, see tools/misc/fetch_weights.py; the
# official keys are converted by FastiTPN itself, trust_pickle since the file is the official one).
# An HVT pre-training or mmpretrain checkpoint path also works (pos_embed is resized).
_base_ = [
    '../_base_/models/fast_itpn/fast-itpn-b.py',
    '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../_base_/default_runtime.py',
]

model = dict(backbone=dict(
    drop_path_rate=0.1,
    init_cfg=dict(type='Pretrained', checkpoint='official:fast-itpn-b-clip-l_pt-1600e',
                  trust_pickle=True)))

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)),
    constructor='hvt.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.90, layer_decay_mode='official',
                       layer_decay_rescale=False),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=3,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=3, end=20,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=1)
custom_hooks = [dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL')]
auto_scale_lr = dict(base_batch_size=1024)
