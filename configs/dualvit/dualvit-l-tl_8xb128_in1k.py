# Dual-ViT-L with TOKEN LABELING + MixToken, ImageNet-1k 224x224 (the paper's "+" models).
# Paper Table 2: Dual-ViT-L+ 73.0M params (exact 72,966,544), 18.0 GFLOPs, top-1 85.7 / top-5 97.4.
#
# !!! THIS RECIPE NEEDS DENSE TOKEN-LABEL MAPS, WHICH HVT DOES NOT SHIP. !!!
# The official run uses the NFNet-F6 label maps of LV-ViT/VOLO (--token-label-data
# label_top5_train_nfnet, 7x7 token labels). Each training sample must carry them as
# 'gt_token_label' (a (1000, h, w) score map or an (h, w) class-index map, already cropped and
# flipped consistently with the image by your own loading transform, then packed with
# PackInputs(algorithm_keys=['gt_token_label'])). Without them DualViTClsHead raises a KeyError
# naming the missing field. If you do not have the label maps, train the plain model
# (dualvit-l_8xb128_in1k.py), or set model.head.aux_loss_weight=0 to keep the TL architecture
# (aux_head, MixToken) with the class loss only -- that is NOT the paper's recipe.
#
# Recipe differences to the plain config (docs/design/dualvit.md#imagenet-training-recipe): no
# Mixup/CutMix (MixToken on the stem map
# instead, boxes on the 8x8-pixel-cell grid of the stem map), no repeated augmentation,
# loss = 1.0 * class CE (label smoothing 0.1, target mixed by MixToken) + 0.5 * dense soft CE
# (label smoothing 0.1); eval logits = cls + 0.5 * max over tokens of aux.
_base_ = ['./dualvit-l_8xb128_in1k.py']

model = dict(
    backbone=dict(mix_token=True),
    head=dict(token_label=True, aux_loss_weight=0.5, aux_eval_weight=0.5,
              aux_label_smoothing=0.1),
    train_cfg=None,
)
train_dataloader = dict(sampler=dict(type='DefaultSampler', shuffle=True, _delete_=True))
