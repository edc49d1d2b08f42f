# ViTAEv2-B fine-tuned at 384 from the 224 model.
# Paper row: Table 3 "ViTAEv2-B↑384" 89.7M / 74.4 GFLOPs / 85.3 top-1.
# Recipe: not given by the paper (docs/design/vitae.md#no-384-fine-tuning-recipe); the ViTAEv2-S 384
# fine-tune recipe, with
# the B model's drop path 0.4, dropout 0.1 and gradient clipping 5.0.
_base_ = ['./vitaev2-s_8xb64_in1k-384px.py']

model = dict(backbone=dict(arch='b', drop_path_rate=0.4, drop_rate=0.1),
             head=dict(in_channels=1024))
optim_wrapper = dict(clip_grad=dict(_delete_=True, max_norm=5.0))
load_from = None  # path to the 224 ViTAEv2-B checkpoint
