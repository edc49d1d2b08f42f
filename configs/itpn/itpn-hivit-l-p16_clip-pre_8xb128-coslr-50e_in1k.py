# ImageNet-1k fine-tuning of CLIP-pre-trained iTPN-L (official code values,
# docs/design/itpn.md#imagenet-fine-tuning-recipes):
# lr 2e-4, layer decay 0.55 rescaled, drop path 0.25, 5 warm-up epochs, layer scale 0.1.
# Paper: 87.8 top-1 (CLIP-L teacher).
_base_ = ['./itpn-hivit-l-p16_pixel-pre_8xb128-coslr-50e_in1k.py']

model = dict(
    backbone=dict(
        drop_path_rate=0.25, layer_scale_init_value=0.1,
        init_cfg=dict(checkpoint='work_dirs/itpn-clip-l_hivit-l/epoch_300.pth')),
)
optim_wrapper = dict(optimizer=dict(lr=2e-4))
