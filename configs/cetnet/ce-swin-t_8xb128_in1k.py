# Paper Table 7: CE-Swin-T, read as D=64 [2,2,18,2] Swin blocks + CE
# (docs/design/cetnet.md#ce-swin-t-reading; the printed 96/[2,2,4,2] row is arch="ce-t-printed").
# Printed: 23.4M / 4.3G / 82.5. This config builds 23,194,916 params (1000-class head).
# type=hvt.CESwin, embed='conv' ('conv' = CETNet's CE stem and CEs, 'patch' = the model's own
# token embeddings). Classification from final LN + global average pooling + linear head.
# Recipe: the Swin ImageNet recipe of configs/cetnet (docs/design/cetnet.md#imagenet-recipe; the
# paper trains each model
# with its own scheme, which differs in details), drop path 0.2 (the baseline's own value).
_base_ = [
    '../_base_/models/image-classifier.py',
    '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(_delete_=True, type='hvt.CESwin', arch='ce-t', embed='conv',
                  drop_path_rate=0.2, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=512))
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader
