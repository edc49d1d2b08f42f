# Train UperNet ViTAEv2-S from scratch (random weights) on your own semantic segmentation data
# (docs/custom_data.md). No paper row: a template. It is the fine-tune template next to it with only
# the training recipe changed, so the data, the classes and the crops are set in one place: edit the
# top block of upernet_vitaev2-s_ft_custom-seg.py (data_root, classes, palette, crop_size) and keep
# the two files in the same folder. Recipe: AdamW lr 2e-4 (batch 16), wd 0.05, 3000-iteration
# warm-up, poly decay over 80k iterations, drop path 0.1; the fine-tune template's random resize
# (0.5-2.0), crop, flip and photometric distortion are already strong and stay.
_base_ = ['./upernet_vitaev2-s_ft_custom-seg.py']

pretrained = None  # nothing is loaded: every layer starts from its random initialisation
# the variant (`arch`, one line; the UperNet follows) is set in the fine-tune template
# the schedule, stated once: warm-up, poly decay, validation and checkpoints follow it. Longer than
# fine-tuning in both: random weights need a gentler start and many more iterations
max_iters = 80000
warmup_iters = 3000
eval_every = 8000
# about 3x the fine-tuning rate: nothing pretrained to protect, every layer has far to move; it is
# the rate for batch 16 and scales linearly with the batch (--auto-scale-lr does this)
lr = 2e-4
weight_decay = 0.05  # stronger than fine-tuning's 0.01: only your images to learn from

model = dict(backbone=dict(init_cfg=None))  # drop path stays the fine-tune template's 0.1

optim_wrapper = dict(optimizer=dict(lr=lr, weight_decay=weight_decay))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=warmup_iters,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=eval_every)
default_hooks = dict(checkpoint=dict(interval=eval_every))
