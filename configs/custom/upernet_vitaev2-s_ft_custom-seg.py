# Fine-tune UperNet ViTAEv2-S on your own semantic segmentation data (docs/custom_data.md). No
# paper row: a template. Data: images and single-channel PNG masks with the same file stem, whose
# pixel values are class indices 0 .. num_classes - 1 (255 = ignore), read by mmseg's
# BaseSegDataset:
#   data/my_seg/img_dir/{train,val}/*.jpg   data/my_seg/ann_dir/{train,val}/*.png
# Label 0 is a real class here (reduce_zero_label=False); set it to True only if 0 means "ignore".
# Backbone: the official ImageNet-1k ViTAEv2-S by name (`official:vitaev2-s_in1k`, fetched on first
# use; prefix='backbone.'); the heads are new (num_classes = len(classes)). Recipe: the base config's
# AdamW lr 6e-5 (batch 16), wd 0.01, poly schedule, shortened to 20k iterations, drop path 0.1,
# 512x512 crops of a (1024, 512) resize. From random weights instead:
# upernet_vitaev2-s_scratch_custom-seg.py.
_base_ = ['hvt::vitaev2/upernet_vitaev2-s_8xb2-160k_ade20k-512x512.py']  # from any folder (import hvt)

data_root = 'data/my_seg'
classes = ('background', 'road', 'building', 'vegetation', 'sky')
palette = [(0, 0, 0), (128, 64, 128), (70, 70, 70), (107, 142, 35), (70, 130, 180)]
metainfo = dict(classes=classes, palette=palette)
# the official ImageNet-1k ViTAEv2-S, fetched and converted on first use (docs/official_weights.md);
# a local path works too; None loads nothing (to train from scratch use the *_scratch_* template:
# it also changes the lr, the warm-up, the schedule and the augmentation)
pretrained = 'official:vitaev2-s_in1k'
# the variant, one line: 's' (the smallest with official weights, and the one for a first CPU try,
# with a smaller crop_size), '48m', 'b'; UperNet's in_channels follow it
arch = 's'
crop_size = (512, 512)

backbone_init = (dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')
                 if pretrained else None)
model = dict(
    data_preprocessor=dict(size=crop_size),
    # drop path 0.1: light (the ADE20K recipe's 0.2 is for 160k iterations)
    backbone=dict(arch=arch, drop_path_rate=0.1, init_cfg=backbone_init),
    decode_head=dict(num_classes=len(classes)),
    auxiliary_head=dict(num_classes=len(classes)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='RandomResize', scale=(1024, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='PackSegInputs'),
]
dataset = dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo, img_suffix='.jpg',
               seg_map_suffix='.png', reduce_zero_label=False)
train_dataloader = dict(
    dataset=dict(_delete_=True, **dataset, pipeline=train_pipeline,
                 data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train')))
val_dataloader = dict(
    dataset=dict(_delete_=True, **dataset, pipeline=test_pipeline,
                 data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val')))
test_dataloader = val_dataloader

# the schedule, stated once: warm-up, poly decay, validation and checkpoints follow it
max_iters = 20000
warmup_iters = 1500
eval_every = 2000
# the ADE20K fine-tuning rate, for batch 16 (8 GPUs x 2; --auto-scale-lr scales it linearly): small,
# because the pretrained backbone should move little while the new UperNet heads learn; wd 0.01
# as in that recipe (a light pull on weights that start from good values)
lr = 6e-5
weight_decay = 0.01
optim_wrapper = dict(optimizer=dict(lr=lr, weight_decay=weight_decay))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=warmup_iters,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=eval_every)
default_hooks = dict(checkpoint=dict(interval=eval_every))
