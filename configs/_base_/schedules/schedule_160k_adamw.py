# ADE20K 160k with the Swin UperNet recipe (ViTAEv2, Dual-ViT, CETNet): AdamW lr 6e-5,
# betas (0.9, 0.999), weight decay 0.01, no decay on norms; 1500-iteration linear warm-up from
# 1e-6, then poly decay with power 1.0 (linear) to 0. Total batch 16 (8 GPUs x 2 images).
_base_ = ['./schedule_160k.py']
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'norm': dict(decay_mult=0.),
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
