# iTPN-L (HiViT-L, CLIP-target pre-trained) fine-tuning with fully sharded data parallel: every
# stage-3 HiViTBlock is one FSDP unit (the MLP-only early stages stay in the root unit); with_cp
# recomputes block activations in the backward pass. Same recipe as
# itpn-hivit-l-p16_clip-pre_8xb128-coslr-50e_in1k.py otherwise.
#   bash tools/dist_train.sh configs/itpn/itpn-hivit-l-p16_clip-pre_8xb128-fsdp-coslr-50e_in1k.py 8
_base_ = ['./itpn-hivit-l-p16_clip-pre_8xb128-coslr-50e_in1k.py', '../_base_/fsdp_runtime.py']

model = dict(backbone=dict(with_cp=True))
strategy = dict(model_wrapper=dict(auto_wrap_policy=dict(layer_cls=['HiViTBlock'])))
