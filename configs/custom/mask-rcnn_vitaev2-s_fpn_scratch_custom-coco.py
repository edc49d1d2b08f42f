# Train Mask R-CNN ViTAEv2-S from scratch (random weights) on your own COCO-format data
# (docs/custom_data.md). No paper row: a template. It is the fine-tune template next to it with only
# the training recipe changed, so the data, the classes and the heads are set in one place: edit
# the top block of mask-rcnn_vitaev2-s_fpn_ft_custom-coco.py (data_root, classes, palette) and keep
# the two files in the same folder. Recipe: AdamW lr 2e-4 (batch 16), wd 0.05, 1000-iteration
# warm-up, 36 epochs (3x) with steps at 2/3 and 11/12, multi-scale resize (0.8-1.25) + flip.
# Detectors trained from scratch need about 3x the epochs of fine-tuning to catch up, and on a few
# hundred images they stay well behind a pretrained backbone: fine-tune when you can.
_base_ = ['./mask-rcnn_vitaev2-s_fpn_ft_custom-coco.py']

pretrained = None  # nothing is loaded: every layer starts from its random initialisation
# the variant (`arch`, one line; the FPN follows) is set in the fine-tune template
# the schedule, stated once: the warm-up and the lr steps at 2/3 and 11/12 follow it. Longer than
# fine-tuning in both: random weights need a gentler start and many more epochs
max_epochs = 36
warmup_iters = 1000
# 2x the fine-tuning rate: nothing pretrained to protect, every layer has far to move; it is the
# rate for batch 16 and scales linearly with the batch (--auto-scale-lr does this)
lr = 2e-4
weight_decay = 0.05  # regularises a model that has only your images to learn from

model = dict(backbone=dict(init_cfg=None))  # drop path stays the fine-tune template's 0.1

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    # scale jitter: the cheapest stronger augmentation for a detector without pretrained features
    dict(type='RandomResize', scale=(1333, 800), ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(optimizer=dict(lr=lr, weight_decay=weight_decay))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, gamma=0.1,
         milestones=[max_epochs * 2 // 3, max_epochs * 11 // 12]),
]
train_cfg = dict(max_epochs=max_epochs)
