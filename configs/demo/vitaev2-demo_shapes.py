# The Quick-start demo: a narrowed ViTAEv2 (same cells as ViTAEv2-S: PRM reduction cells, PCM
# branches, window then full attention; fewer and thinner blocks) learns the generated shapes set
# (4 classes, 64x64) on a CPU in a few minutes. Data: tools/misc/make_tiny_datasets.py --tasks imagenet.
_base_ = [
    '../_base_/models/image-classifier.py', '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py', '../_base_/default_runtime.py'
]
classes = ('circle', 'square', 'triangle', 'star')  # label order of make_tiny_datasets.py
img_size = 64

model = dict(
    backbone=dict(
        _delete_=True,
        type='hvt.ViTAEv2',
        arch=dict(embed_dims=[32, 32, 64, 128], token_dims=[32, 64, 128, 256], depths=[1, 1, 2, 1],
                  rc_heads=[1, 1, 2, 4], nc_heads=[1, 2, 4, 8], rc_groups=[1, 8, 16, 32],
                  nc_groups=[1, 16, 32, 64]),
        drop_path_rate=0.0),
    head=dict(num_classes=len(classes), in_channels=256,
              loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=None)

data_preprocessor = dict(num_classes=len(classes))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.7, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_size),
    dict(type='PackInputs'),
]
dataset = dict(type='CustomDataset', data_root='data/demo/imagenet', metainfo=dict(classes=classes))
train_dataloader = dict(batch_size=32, num_workers=2, persistent_workers=True,
                        dataset=dict(dataset, ann_file='meta/train.txt', data_prefix='train',
                                     pipeline=train_pipeline, _delete_=True))
val_dataloader = dict(batch_size=64, num_workers=2, persistent_workers=True,
                      dataset=dict(dataset, ann_file='meta/val.txt', data_prefix='val',
                                   pipeline=test_pipeline, _delete_=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=0.05), clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1, end=8),
]
train_cfg = dict(by_epoch=True, max_epochs=8, val_interval=2)
auto_scale_lr = dict(base_batch_size=32)

default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=2, max_keep_ckpts=2))
randomness = dict(seed=0)
