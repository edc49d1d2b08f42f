# Fine-tune ViTAEv2-S on your own classification data (docs/custom_data.md). No paper row: a
# template. Data: an image folder with one sub-folder per class, read by mmpretrain's CustomDataset
# (no annotation file; labels are the sub-folders in sorted order):
#   data/my_cls/train/<class>/*.jpg      data/my_cls/val/<class>/*.jpg
# Backbone: the official ImageNet-1k ViTAEv2-S by name (`official:vitaev2-s_in1k`: downloaded and
# converted on first use, or `python tools/misc/fetch_weights.py vitaev2-s_in1k` beforehand); the
# converted file holds backbone.* and head.fc.*, and prefix='backbone.' takes only the backbone. The linear head
# is new, with `num_classes` outputs. Recipe: AdamW lr 1e-4 (batch 32), wd 0.05, 1 warm-up epoch
# then cosine, 30 epochs, drop path 0.1, label smoothing 0.1, crop + flip, no Mixup/CutMix/EMA.
# Training from random weights instead: vitaev2-s_scratch_custom-folder.py next to this file.
_base_ = ['hvt::vitaev2/vitaev2-s_8xb128_in1k.py']  # `hvt::` works from any folder (import hvt first)

data_root = 'data/my_cls'
num_classes = 10  # the number of sub-folders of train/
# the official ImageNet-1k ViTAEv2-S, fetched and converted on first use (docs/official_weights.md);
# a local path works too; None loads nothing (to train from scratch use the *_scratch_* template:
# it also changes the lr, the warm-up, the schedule and the augmentation)
pretrained = 'official:vitaev2-s_in1k'
img_size = 224
# the variant, one line: 's' (18.9 M parameters), '48m', 'b' (docs/custom_data.md, "Picking a
# model size"); the head's in_channels follow it, here and in the from-scratch template (which
# inherits it). 's' is the smallest with official weights: for a first CPU try keep it and set
# img_size = 64. `arch = demo_arch` is the narrowed ViTAEv2 of `make demo` (2.5 M parameters, about
# 6x faster on a CPU, no official weights): the first CPU try from scratch, or fine-tuning a
# checkpoint of it that you trained on related data
demo_arch = dict(embed_dims=[32, 32, 64, 128], token_dims=[32, 64, 128, 256], depths=[1, 1, 2, 1],
                 rc_heads=[1, 1, 2, 4], nc_heads=[1, 2, 4, 8], rc_groups=[1, 8, 16, 32],
                 nc_groups=[1, 16, 32, 64])
arch = 's'
# the schedule, stated once: the warm-up and the cosine decay below follow these two numbers
max_epochs = 30
warmup_epochs = 1
lr = 1e-4  # a fine-tuning rate (batch 32): the pretrained features should move only a little
weight_decay = 0.05  # the ImageNet recipe's; a short run from good weights is not sensitive to it

backbone_init = (dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')
                 if pretrained else None)
model = dict(
    # drop path 0.1: light, the features are already general and the schedule is short
    backbone=dict(_delete_=True, type='hvt.ViTAEv2', arch=arch, out_indices=(3, ),
                  drop_path_rate=0.1, init_cfg=backbone_init),
    head=dict(num_classes=num_classes),
    train_cfg=None)  # no Mixup / CutMix
data_preprocessor = dict(num_classes=num_classes)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=img_size, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=img_size * 8 // 7, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root, data_prefix='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root, data_prefix='val',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=lr, weight_decay=weight_decay), clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=lr * 1e-2, by_epoch=True, begin=warmup_epochs,
         end=max_epochs),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
auto_scale_lr = dict(base_batch_size=32)
custom_hooks = []  # no EMA for a short fine-tune
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2, save_best='auto'))
