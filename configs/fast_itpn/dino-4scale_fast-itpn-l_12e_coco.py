# Fast-iTPN-L DINO 4-scale 12 epochs, COCO val2017. Paper: Fast-iTPN Table VI, "Fast-iTPN-L,
# IN1K CLIP-L 1600e, DINO, 12 epochs": box AP 58.8 (no acceleration).
# Same recipe as dino-4scale_fast-itpn-b_12e_coco.py; drop path 0.2 and layer decay 0.95 (the
# fine-tuning drop path of docs/design/itpn.md#imagenet-fine-tuning-recipes; iTPN's dense-task layer
# decay for the size).
_base_ = ['./dino-4scale_fast-itpn-b_12e_coco.py']
model = dict(backbone=dict(
    arch='l', drop_path_rate=0.2,
    init_cfg=dict(checkpoint='official:fast-itpn-l-clip-l_pt-1600e')))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.95))
