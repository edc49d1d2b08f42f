# Fine-tune ViTAEv2-S on your own classification data (docs/custom_data.md). No paper row: a
# template. Data: an image folder with one sub-folder per class, read by mmpretrain's CustomDataset
# (no annotation file; labels are the sub-folders in sorted order):
#   data/my_cls/train/<class>/*.jpg      data/my_cls/val/<class>/*.jpg
# Backbone: the official ImageNet-1k ViTAEv2-S by name (`official:vitaev2-s_in1k`: downloaded and
# converted on first use, or `python tools/misc/fetch_weights.py vitaev2-s_in1k` beforehand); the
# converted file holds backbone.* and head.fc.*, and prefix='backbone.' takes only the backbone. The linear head
# is new, with `num_classes` outputs. Recipe: AdamW lr 1e-4 (batch 32), wd 0.05, 1 warm-up epoch
# then cosine, 30 epochs, label smoothing 0.1, no Mixup/CutMix/EMA.
_base_ = ['hvt::vitaev2/vitaev2-s_8xb128_in1k.py']  # `hvt::` works from any folder (import hvt first)

data_root = 'data/my_cls'
num_classes = 10  # the number of sub-folders of train/
# the official ImageNet-1k ViTAEv2-S, fetched and converted on first use (docs/official_weights.md);
# a local path works too, and None trains from scratch (then raise lr and the epochs)
pretrained = 'official:vitaev2-s_in1k'
img_size = 224
# the schedule, stated once: the warm-up and the cosine decay below follow these two numbers
max_epochs = 30
warmup_epochs = 1
lr = 1e-4  # a fine-tuning rate (batch 32): the pretrained features should move only a little

backbone_init = (dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')
                 if pretrained else None)
model = dict(
    backbone=dict(drop_path_rate=0.1,
                  init_cfg=backbone_init),
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

optim_wrapper = dict(optimizer=dict(lr=lr, weight_decay=0.05), clip_grad=None)
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
