# Fine-tune Mask R-CNN ViTAEv2-S on your own COCO-format data (docs/custom_data.md). No paper
# row: a template. Data: images plus one COCO instances JSON per split, with your own categories:
#   data/my_coco/images/{train,val}/*.jpg   data/my_coco/annotations/{train,val}.json
# `classes` must be the JSON's category names (mmdet keeps only these categories, in this order);
# `palette` gives one colour per class for drawing. Backbone: the official ImageNet-1k ViTAEv2-S
# by name (`official:vitaev2-s_in1k`, fetched on first use; prefix='backbone.'); FPN and heads are new
# (num_classes = len(classes)). Training: single-scale 1333x800 + flip (small datasets do not need
# the DETR-style crops of the COCO recipe), the 1x COCO schedule, AdamW lr 1e-4 (batch 16), wd 0.05.
# Training from random weights instead: mask-rcnn_vitaev2-s_fpn_scratch_custom-coco.py.
_base_ = ['hvt::vitaev2/mask-rcnn_vitaev2-s_fpn_1x_coco.py']  # works from any folder (import hvt first)

data_root = 'data/my_coco/'
classes = ('cat', 'dog')
palette = [(220, 20, 60), (0, 128, 255)]
metainfo = dict(classes=classes, palette=palette)
# the official ImageNet-1k ViTAEv2-S, fetched and converted on first use (docs/official_weights.md);
# a local path works too; None loads nothing (to train from scratch use the *_scratch_* template:
# it also changes the lr, the warm-up, the schedule and the augmentation)
pretrained = 'official:vitaev2-s_in1k'
# the variant, one line: 's' (the smallest with official weights, and the one for a first CPU try,
# with a smaller Resize scale), '48m', 'b'; the FPN's in_channels follow it
arch = 's'
# the schedule, stated once: the lr steps at 2/3 and 11/12 of it, as in COCO's 1x (8 and 11 of 12)
max_epochs = 12
warmup_iters = 500
# the COCO fine-tuning rate, for batch 16 (8 GPUs x 2; --auto-scale-lr scales it linearly): small,
# because the pretrained backbone should move little while the new FPN and heads learn
lr = 1e-4
weight_decay = 0.05  # AdamW's usual value for ViTs (the COCO recipe's 0.045, rounded)

backbone_init = (dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')
                 if pretrained else None)
model = dict(
    backbone=dict(arch=arch, drop_path_rate=0.1, init_cfg=backbone_init),  # light drop path
    roi_head=dict(bbox_head=dict(num_classes=len(classes)),
                  mask_head=dict(num_classes=len(classes))))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/train.json',
                 data_prefix=dict(img='images/train/'), pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/val.json',
                 data_prefix=dict(img='images/val/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=lr, weight_decay=weight_decay))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, gamma=0.1,
         milestones=[max_epochs * 2 // 3, max_epochs * 11 // 12]),
]
train_cfg = dict(max_epochs=max_epochs)
