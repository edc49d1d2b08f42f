# Train ViTAEv2-S from scratch (random weights) on your own classification data
# (docs/custom_data.md). No paper row: a template. It is the fine-tune template next to it with only
# the training recipe changed, so the data, the pipelines and the head are set in one place: edit
# the top block of vitaev2-s_ft_custom-folder.py (data_root, num_classes, img_size) and keep the two
# files in the same folder. Recipe: AdamW lr 1e-3 (batch 32), wd 0.05, 5 warm-up epochs then
# cosine, 100 epochs, drop path 0.1, label smoothing 0.1, crop + flip + RandAugment, Mixup 0.8 /
# CutMix 1.0 on the batches. Without pretrained features a ViT needs many epochs and strong
# augmentation; on a few hundred images expect much less accuracy than fine-tuning.
_base_ = ['./vitaev2-s_ft_custom-folder.py']

pretrained = None  # nothing is loaded: every layer starts from its random initialisation
# The variant is set with the data in the fine-tune template (`arch`, one line; the head follows).
# For a first CPU try from scratch set `arch = demo_arch` there: the narrowed ViTAEv2 of `make demo`
# (2.5 M parameters, same cells, about 6x faster on a CPU than 's'; it has no official weights,
# which does not matter here).
# the schedule, stated once: the warm-up and the cosine decay below follow these two numbers.
# From scratch needs a longer warm-up (large early steps on random weights diverge) and far more
# epochs than fine-tuning
max_epochs = 100
warmup_epochs = 5
# 10x the fine-tuning rate: random weights have far to move. It is the rate for batch 32; scale it
# linearly with the batch (lr x batch / 32; --auto-scale-lr does this for you)
lr = 1e-3
weight_decay = 0.05  # the ImageNet recipe's: the only regulariser of the weights themselves

model = dict(
    backbone=dict(init_cfg=None),  # drop path stays 0.1, the ImageNet recipe's for ViTAEv2-S
    # Mixup / CutMix on each batch: soft labels, the strongest guard against memorising few images
    train_cfg=dict(_delete_=True, augments=[dict(type='Mixup', alpha=0.8),
                                            dict(type='CutMix', alpha=1.0)]))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale={{_base_.img_size}}, backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    # two random photometric / geometric ops per image (timm's rand-m9-mstd0.5-inc1)
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(optimizer=dict(lr=lr, weight_decay=weight_decay))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=lr * 1e-2, by_epoch=True, begin=warmup_epochs,
         end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
