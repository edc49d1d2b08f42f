# Paper Table 7: CvT-13 (baseline).
# Printed: 20.0M / 4.5G / 81.6. This config builds 19,997,480 params (1000-class head).
# type=hvt.CECvT, embed='patch' ('conv' = CETNet's CE stem and CEs, 'patch' = the model's own
# token embeddings). Classification from the normed cls token of the last stage + linear head (official).
# Recipe: the Swin ImageNet recipe of configs/cetnet (docs/design/cetnet.md#imagenet-recipe; the
# paper trains each model
# with its own scheme, which differs in details), drop path [0, 0, 0.1] per stage (CvT-13's own).
_base_ = [
    '../_base_/models/image-classifier.py',
    '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(_delete_=True, type='hvt.CECvT', arch='13', embed='patch',
                  drop_path_rate=(0., 0., 0.1), out_type='cls_token'),
    neck=None,
    head=dict(in_channels=384))
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader
