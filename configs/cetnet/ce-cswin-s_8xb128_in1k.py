# Paper Table 7: CE-CSWin-S (stage-3 depth 32 -> 31).
# Printed: 33.9M / 6.6G / 84.1. This config builds 33,922,568 params (1000-class head).
# type=hvt.CECSWin, embed='conv' ('conv' = CETNet's CE stem and CEs, 'patch' = the model's own
# token embeddings). Classification from final LN + global average pooling + linear head.
# Recipe: the Swin ImageNet recipe of configs/cetnet (docs/design/cetnet.md#imagenet-recipe; the
# paper trains each model
# with its own scheme, which differs in details), drop path 0.4 (the baseline's own value).
_base_ = [
    '../_base_/models/image-classifier.py',
    '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(_delete_=True, type='hvt.CECSWin', arch='ce-s', embed='conv',
                  drop_path_rate=0.4, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=512))
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader
