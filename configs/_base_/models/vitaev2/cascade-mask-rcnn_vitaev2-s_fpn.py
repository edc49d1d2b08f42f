# Cascade Mask R-CNN (Swin setting: 4conv1fc SyncBN heads, GIoU 10) + FPN with a ViTAEv2-S
# backbone (docs/design/vitae.md#downstream-recipes). Backbone as in mask-rcnn_vitaev2-s_fpn.py.
_base_ = ['../cascade-mask-rcnn_r50_fpn.py']
model = dict(
    backbone=dict(
        _delete_=True, type='hvt.ViTAEv2', arch='s', out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1, frozen_stages=-1, norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint='official:vitaev2-s_in1k',
                      prefix='backbone.')),
    neck=dict(in_channels=[64, 128, 256, 512]))
