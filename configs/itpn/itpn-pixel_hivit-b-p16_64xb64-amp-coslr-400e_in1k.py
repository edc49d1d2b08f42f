# iTPN-B pixel pre-training, the paper's 400-epoch setting (85.1 top-1 after fine-tuning).
_base_ = ['./itpn-pixel_hivit-b-p16_64xb64-amp-coslr-1600e_in1k.py']

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=40,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=360, eta_min=0.0, by_epoch=True, begin=40, end=400,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=400)
