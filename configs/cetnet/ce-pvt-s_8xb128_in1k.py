# Paper Table 7: CE-PVT-S (stage-3 depth 6 -> 4, position embeddings kept).
# Printed: 22.6M / 3.7G / 81.1. This config builds 22,611,016 params (1000-class head).
# type=hvt.CEPVT, embed='conv' ('conv' = CETNet's CE stem and CEs, 'patch' = the model's own
# token embeddings). Classification from the normed cls token of the last stage + linear head (official).
# Recipe: the Swin ImageNet recipe of configs/cetnet (docs/design/cetnet.md#imagenet-recipe; the
# paper trains each model
# with its own scheme, which differs in details), drop path 0.1 (the baseline's own value).
_base_ = [
    '../_base_/models/image-classifier.py',
    '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(_delete_=True, type='hvt.CEPVT', arch='ce-s', embed='conv',
                  drop_path_rate=0.1, out_type='cls_token'),
    neck=None,
    head=dict(in_channels=512))
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader
