# COCO 2017 instances with the DETR-style multi-scale + crop training augmentation ("the Swin
# setting", used by ViTAEv2, Dual-ViT 3x, CETNet and iTPN): RandomFlip 0.5, then AutoAugment with
# two policies: (a) resize the short side to one of 480, 512, ..., 800 (long side <= 1333);
# (b) resize to 400/500/600, RandomCrop absolute_range (384, 600), then resize as in (a).
# Test: single scale 1333x800. Padding to a multiple of 32 is done by the data preprocessor.
_base_ = ['./coco_instance.py']
ms_scales = [(480, 1333), (512, 1333), (544, 1333), (576, 1333), (608, 1333), (640, 1333),
             (672, 1333), (704, 1333), (736, 1333), (768, 1333), (800, 1333)]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomChoice', transforms=[
        [dict(type='RandomChoiceResize', scales=ms_scales, keep_ratio=True)],
        [dict(type='RandomChoiceResize', scales=[(400, 1333), (500, 1333), (600, 1333)],
              keep_ratio=True),
         dict(type='RandomCrop', crop_type='absolute_range', crop_size=(384, 600),
              allow_negative_crop=True),
         dict(type='RandomChoiceResize', scales=ms_scales, keep_ratio=True)],
    ]),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
