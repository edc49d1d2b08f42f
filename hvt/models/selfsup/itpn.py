"""Integral pre-training of iTPN (docs/design/itpn.md#pixel-pre-training,
docs/design/itpn.md#clip-supervised-pre-training,
docs/design/itpn.md#masked-feature-modeling-with-an-ema-teacher) as an mmpretrain self-supervised
algorithm.

* ``iTPNPixelNeck``: the shared :class:`iTPNPyramid` + the MAE-style decoder fed by all three
  pyramid levels (``decoder_embed.{0: O16, 1: O8, 2: O4}``, sum, ``decoder_depth`` blocks, default 8).
* ``iTPNClipNeck``: the pyramid + level fusion -> ``norm`` -> ``lm_head``, and the optional aux
  branch (``cls_pt_layers`` on the stage-3 output after block int(0.75 depth), ``norm_cls``,
  ``lm_cls_head``).
* ``FeatureTeacher``: a frozen feature teacher built from any config (mmpretrain's
  ``CLIPGenerator`` with a CLIP checkpoint, or any hvt / mm backbone + checkpoint).
* ``iTPNPretrain``: the algorithm. ``target='pixel'`` (MAE masking, normalised-pixel loss through
  ``MAEPretrainHead``) or ``target='clip'`` (BEiT block masking with a stage-3 mask token,
  smooth-L1 or cosine feature loss on all or masked tokens). ``mfm=dict(...)`` adds multi-stage
  masked feature modeling with an EMA teacher (λ = 0.3, momentum 0.996); ``teacher_input``
  chooses the resolution of the paper's ambiguity (A1): ``'visible'`` (default: the EMA
  teacher sees the student's visible patches, per-token linear heads on O4/O8/O16) or
  ``'masked'`` (pixel target only: the teacher sees only the masked patches, linear heads on the
  decoder output predict its unfolded stage features, loss on masked patches).
"""
import copy
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.runner.checkpoint import CheckpointLoader
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from torch import nn

from hvt.engine.checkpoint_io import unwrap_state_dict
from hvt.engine.weights import resolve
from hvt.models.backbones.hivit import random_masking
from hvt.models.layers.hivit_blocks import HiViTBlock
from hvt.models.layers.itpn_pyramid import iTPNPyramid
from hvt.models.layers.tokens import sincos_pos_embed_2d
from hvt.models.layers.weight_init import init_vit_weights
from hvt.registry import MODELS


def _fusion_layers(fpn_dim, out_dim, norm_eps):
    """``decoder_embed``: LN + Linear to out_dim, out_dim/4, out_dim/16 for O16, O8, O4."""
    if out_dim % 16:
        raise ValueError(f'decoder/fusion width must be divisible by 16, got {out_dim}')
    return nn.ModuleList([
        nn.Sequential(nn.LayerNorm(fpn_dim, eps=norm_eps), nn.Linear(fpn_dim, out_dim // r))
        for r in (1, 4, 16)
    ])


def _init_linear_ln(module):
    module.apply(init_vit_weights)


@MODELS.register_module()
class iTPNPixelNeck(iTPNPyramid):
    """Pyramid + MAE decoder for pixel pre-training (keys as in the official model under
    ``neck.``: pyramid keys, ``decoder_embed``, ``mask_token``, ``decoder_pos_embed``,
    ``decoder_blocks``, ``decoder_norm``, ``decoder_pred``)."""

    def __init__(self, in_channels=(128, 256, 512), fpn_dim=256, fpn_depth=2, mlp_ratio=4.,
                 num_patches=196, patch_size=16, in_chans=3, decoder_embed_dim=512,
                 decoder_depth=8, decoder_num_heads=16, norm_eps=1e-6, init_cfg=None):
        super().__init__(in_channels, fpn_dim, fpn_depth, mlp_ratio, norm_eps, init_cfg)
        D = self.decoder_embed_dim = decoder_embed_dim
        self.grid = (int(num_patches ** .5), ) * 2
        self.decoder_embed = _fusion_layers(fpn_dim, D, norm_eps)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, D))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, num_patches, D), requires_grad=False)
        self.decoder_blocks = nn.ModuleList([
            HiViTBlock(D, decoder_num_heads, mlp_ratio, qkv_bias=True, norm_eps=norm_eps)
            for _ in range(decoder_depth)])
        self.decoder_norm = nn.LayerNorm(D, eps=norm_eps)
        self.decoder_pred = nn.Linear(D, patch_size ** 2 * in_chans)

    def init_weights(self):
        if self.init_cfg is not None:
            return super().init_weights()
        _init_linear_ln(self)
        with torch.no_grad():
            self.decoder_pos_embed.copy_(sincos_pos_embed_2d(self.decoder_embed_dim, *self.grid))
        nn.init.normal_(self.mask_token, std=.02)

    def fuse(self, outs, ids_restore, grid):
        """Space-to-depth fusion of (O4, O8, O16) + mask tokens + pos embed -> (B, N, D)."""
        o4, o8, o16 = outs
        B, L = o16.shape[:2]
        N = ids_restore.shape[1]
        x = 0
        for lvl, (feat, layer) in enumerate(zip((o16, o8, o4), self.decoder_embed)):
            y = layer(feat).reshape(B, L, -1)
            y = torch.cat([y, self.mask_token.expand(B, N - L, -1).to(y.dtype)], dim=1)
            y = torch.gather(y, 1, ids_restore[:, :, None].expand(-1, -1, y.shape[-1]))
            if lvl == 0:
                if tuple(grid) == self.grid:
                    pe = self.decoder_pos_embed
                else:
                    pe = sincos_pos_embed_2d(self.decoder_embed_dim, *grid).to(y)
                y = y + pe
            x = x + y
        return x

    def forward(self, latent, ids_restore, grid=None, return_features=False):
        """``latent`` = (U1, U2, U3) of the visible patches; returns ``(B, N, p*p*3)``
        (and the decoder features before ``decoder_pred`` if ``return_features``)."""
        grid = self.grid if grid is None else grid
        outs = self.forward_tokens(*latent)
        x = self.fuse(outs, ids_restore, grid)
        for blk in self.decoder_blocks:
            x = blk(x)
        x = self.decoder_norm(x)
        pred = self.decoder_pred(x)
        if return_features:
            return pred, x, outs
        return pred


@MODELS.register_module()
class iTPNClipNeck(iTPNPyramid):
    """Pyramid + fusion head for CLIP-feature pre-training (official keys ``decoder_embed``,
    ``norm``, ``lm_head``, ``cls_pt_layers``, ``norm_cls``, ``lm_cls_head``)."""

    def __init__(self, in_channels=(128, 256, 512), fpn_dim=256, fpn_depth=1, mlp_ratio=4.,
                 teacher_dim=512, num_heads=8, aux_depth=2, rpe_grid=(14, 14),
                 layer_scale_init_value=0.1, aux_drop_path_rates=(0., 0.), norm_eps=1e-6,
                 init_cfg=None):
        super().__init__(in_channels, fpn_dim, fpn_depth, mlp_ratio, norm_eps, init_cfg)
        C = in_channels[-1]
        self.decoder_embed = _fusion_layers(fpn_dim, C, norm_eps)
        self.norm = nn.LayerNorm(C, eps=norm_eps)
        self.lm_head = nn.Linear(C, teacher_dim)
        self.aux_depth = aux_depth
        if aux_depth > 0:
            dpr = list(aux_drop_path_rates) + [0.] * aux_depth
            self.cls_pt_layers = nn.ModuleList([
                HiViTBlock(C, num_heads, mlp_ratio, qkv_bias=True, drop_path=dpr[i],
                           rpe_size=rpe_grid, layer_scale_init_value=layer_scale_init_value,
                           norm_eps=norm_eps) for i in range(aux_depth)])
            self.norm_cls = nn.LayerNorm(C, eps=norm_eps)
            self.lm_cls_head = nn.Linear(C, teacher_dim)

    def init_weights(self):
        if self.init_cfg is not None:
            return super().init_weights()
        _init_linear_ln(self)

    def forward(self, latent, hidden=None, rpe_index=None):
        o4, o8, o16 = self.forward_tokens(*latent)
        B, N = o16.shape[:2]
        x = sum(layer(f).reshape(B, N, -1)
                for f, layer in zip((o16, o8, o4), self.decoder_embed))
        pred = self.lm_head(self.norm(x))
        aux = None
        if self.aux_depth > 0 and hidden is not None:
            h = hidden
            for blk in self.cls_pt_layers:
                h = blk(h, rpe_index) if rpe_index is not None else blk(h)
            aux = self.lm_cls_head(self.norm_cls(h))
        return pred, aux, (o4, o8, o16)


@MODELS.register_module()
class FeatureTeacher(BaseModule):
    """A frozen feature teacher built from any model config.

    Args:
        model: config of the teacher network, e.g. ``dict(type='mmpretrain.CLIPGenerator',
            tokenizer_path='official:clip-vit-b-16')`` (a path, or an official weight name that
            is fetched when the teacher is built) or an mmpretrain ``VisionTransformer`` /
            hvt backbone with ``out_type='raw'``.
        checkpoint: optional checkpoint loaded into ``model`` (``checkpoint_prefix`` selects and
            strips a key prefix, e.g. ``'backbone.'``).
        output_index: which element of a tuple output holds the token features.
        drop_cls_token: drop the first token (CLIP / ViT class token).
        input_size: resize the teacher input (e.g. 196 for CLIP-L/14 with 224 students).
        norm_target: apply a non-affine LayerNorm to the targets (official iTPN-CLIP).
    """

    def __init__(self, model, checkpoint=None, checkpoint_prefix=None, output_index=0,
                 drop_cls_token=True, input_size=None, norm_target=True, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if isinstance(model, dict):
            model = copy.deepcopy(model)
            if 'tokenizer_path' in model:  # mmpretrain's CLIPGenerator reads it when built
                model['tokenizer_path'] = resolve(model['tokenizer_path'])
            model = MODELS.build(model)
        self.model = model
        self.checkpoint, self.checkpoint_prefix = checkpoint, checkpoint_prefix
        self.output_index = output_index
        self.drop_cls_token = drop_cls_token
        self.input_size = input_size
        self.norm_target = norm_target
        for p in self.model.parameters():
            p.requires_grad = False

    def init_weights(self):
        super().init_weights()
        if self.checkpoint is not None:
            ckpt = CheckpointLoader.load_checkpoint(self.checkpoint, map_location='cpu')
            sd, _ = unwrap_state_dict(ckpt, keys=('state_dict', ), strip_prefixes=())
            if self.checkpoint_prefix:
                p = self.checkpoint_prefix
                sd = {k[len(p):]: v for k, v in sd.items() if k.startswith(p)}
            self.model.load_state_dict(sd, strict=False)

    def train(self, mode=True):
        super().train(False)
        return self

    @torch.no_grad()
    def forward(self, x):
        if self.input_size is not None and tuple(x.shape[-2:]) != _pair(self.input_size):
            x = F.interpolate(x, size=_pair(self.input_size), mode='bicubic', align_corners=False)
        out = self.model(x)
        if isinstance(out, (tuple, list)):
            out = out[self.output_index]
        if out.dim() == 4:  # NCHW map
            out = out.flatten(2).transpose(1, 2)
        if self.drop_cls_token:
            out = out[:, 1:]
        if self.norm_target:
            out = F.layer_norm(out, out.shape[-1:])
        return out.detach()


def _pair(x):
    return (x, x) if isinstance(x, int) else tuple(x)


@MODELS.register_module()
class iTPNPretrain(BaseSelfSupervisor):
    """iTPN integral pre-training.

    Args:
        backbone: ``hvt.HiViT`` config (pixel: ``ape_init='sincos'``; clip: ``rpe=True``,
            ``use_mask_token=True``, ``layer_scale_init_value=0.1``).
        neck: ``hvt.iTPNPixelNeck`` or ``hvt.iTPNClipNeck``.
        head: pixel target: ``MAEPretrainHead(norm_pix=True, patch_size=16,
            loss=PixelReconstructionLoss(criterion='L2'))``; unused for clip.
        target_generator: clip target: the teacher (e.g. ``hvt.FeatureTeacher``).
        target: ``'pixel'`` or ``'clip'``.
        mask_ratio: MAE mask ratio (pixel).
        clip_mask: BEiT block-mask settings (used when data samples carry no ``mask``).
        clip_loss: ``'smooth_l1'`` (iTPN) or ``'cosine'``.
        clip_loss_tokens: ``'all'`` (official) or ``'masked'`` (mmpretrain).
        mfm: ``None`` or ``dict(loss_weight=0.3, momentum=0.996, teacher_input='visible')``.
    """

    def __init__(self, backbone, neck, head=None, target_generator=None, target='pixel',
                 mask_ratio=0.75, clip_mask=dict(num_masking_patches=75, min_num_patches=16),
                 clip_loss='smooth_l1', clip_loss_tokens='all', mfm=None,
                 data_preprocessor=None, init_cfg=None):
        if target not in ('pixel', 'clip'):
            raise ValueError(f"iTPNPretrain: target must be 'pixel' or 'clip', got {target!r}")
        if target == 'clip' and target_generator is None:
            raise ValueError('iTPNPretrain: target="clip" needs a target_generator (teacher)')
        if target == 'pixel' and head is None:
            raise ValueError('iTPNPretrain: target="pixel" needs a head (MAEPretrainHead)')
        super().__init__(backbone=backbone, neck=neck, head=head,
                         target_generator=target_generator,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.target = target
        self.mask_ratio = mask_ratio
        self.clip_mask = dict(clip_mask)
        if clip_loss not in ('smooth_l1', 'cosine'):
            raise ValueError(f"clip_loss must be 'smooth_l1' or 'cosine', got {clip_loss!r}")
        if clip_loss_tokens not in ('all', 'masked'):
            raise ValueError(f"clip_loss_tokens must be 'all' or 'masked', got {clip_loss_tokens!r}")
        self.clip_loss, self.clip_loss_tokens = clip_loss, clip_loss_tokens
        self._mask_gen = None
        self.mfm_cfg = None
        if mfm is not None:
            cfg = dict(loss_weight=0.3, momentum=0.996, teacher_input='visible')
            cfg.update(mfm)
            if cfg['teacher_input'] not in ('visible', 'masked'):
                raise ValueError("mfm.teacher_input must be 'visible' or 'masked', got "
                                 f"{cfg['teacher_input']!r}")
            if cfg['teacher_input'] == 'masked' and target != 'pixel':
                raise ValueError("mfm.teacher_input='masked' needs the pixel decoder (target='pixel')")
            self.mfm_cfg = cfg
            chans = self.backbone.stage_channels
            if cfg['teacher_input'] == 'visible':
                F_ = self.neck.fpn_dim
                self.mfm_heads = nn.ModuleList([nn.Linear(F_, c) for c in chans])
            else:
                D = self.neck.decoder_embed_dim
                self.mfm_heads = nn.ModuleList(
                    [nn.Linear(D, c * r) for c, r in zip(chans, (16, 4, 1))])
            self.mfm_teacher = copy.deepcopy(self.backbone)
            for p in self.mfm_teacher.parameters():
                p.requires_grad = False

    # ---------------------------------------------------------------- EMA teacher
    def init_weights(self):
        super().init_weights()
        if self.mfm_cfg is not None:
            _init_linear_ln(self.mfm_heads)
            self.mfm_teacher.load_state_dict(self.backbone.state_dict())

    def train(self, mode=True):
        super().train(mode)
        if self.mfm_cfg is not None:
            self.mfm_teacher.train(False)
        return self

    @torch.no_grad()
    def update_teacher(self):
        """θ_teacher <- m θ_teacher + (1 - m) θ_student (called once per training iteration,
        before the forward, i.e. right after the previous optimizer step)."""
        m = self.mfm_cfg['momentum']
        for t, s in zip(self.mfm_teacher.parameters(), self.backbone.parameters()):
            t.mul_(m).add_(s.detach(), alpha=1 - m)
        for t, s in zip(self.mfm_teacher.buffers(), self.backbone.buffers()):
            t.copy_(s)

    # ---------------------------------------------------------------- helpers
    def extract_feat(self, inputs):
        return self.backbone(inputs)

    def _block_masks(self, batch, grid, device):
        if self._mask_gen is None or self._mask_gen_grid != tuple(grid):
            from mmpretrain.datasets.transforms import BEiTMaskGenerator
            cfg = dict(self.clip_mask)
            n = grid[0] * grid[1]
            cfg['num_masking_patches'] = min(cfg.get('num_masking_patches', 75), n // 2 or 1)
            cfg['min_num_patches'] = min(cfg.get('min_num_patches', 16),
                                         cfg['num_masking_patches'])
            self._mask_gen = BEiTMaskGenerator(input_size=tuple(grid), **cfg)
            self._mask_gen_grid = tuple(grid)
        masks = [torch.as_tensor(self._mask_gen.transform({})['mask']) for _ in range(batch)]
        return torch.stack(masks).flatten(1).bool().to(device)

    def _feature_loss(self, pred, target, mask=None):
        if self.clip_loss == 'smooth_l1':
            loss = F.smooth_l1_loss(pred.float(), target.float(), reduction='none').mean(-1)
        else:
            loss = 1 - F.cosine_similarity(pred.float(), target.float(), dim=-1)
        if mask is None:
            return loss.mean()
        mask = mask.to(loss.dtype)
        return (loss * mask).sum() / mask.sum().clamp(min=1)

    # ---------------------------------------------------------------- losses
    def loss(self, inputs, data_samples: Optional[List] = None, **kwargs) -> Dict[str, torch.Tensor]:
        if self.mfm_cfg is not None and self.training:
            self.update_teacher()
        if self.target == 'pixel':
            return self._loss_pixel(inputs[0] if isinstance(inputs, (list, tuple)) else inputs)
        return self._loss_clip(inputs, data_samples)

    def _loss_pixel(self, img):
        B = img.shape[0]
        ps = self.backbone.patch_size
        grid = (img.shape[-2] // ps, img.shape[-1] // ps)
        N = grid[0] * grid[1]
        ids_keep, mask, ids_restore = random_masking(B, N, self.mask_ratio, img.device)
        latent, _ = self.backbone.forward_tokens(img, ids_keep=ids_keep)
        pred, dec, outs = self.neck(latent, ids_restore, grid, return_features=True)
        losses = dict(loss=self.head.loss(pred, img, mask))
        if self.mfm_cfg is not None:
            w = self.mfm_cfg['loss_weight']
            if self.mfm_cfg['teacher_input'] == 'visible':
                with torch.no_grad():
                    tgt, _ = self.mfm_teacher.forward_tokens(img, ids_keep=ids_keep)
                losses['loss_mfm'] = w * self._mfm_visible(outs, tgt)
            else:
                ids_masked = torch.argsort(ids_restore, dim=1)[:, ids_keep.shape[1]:]
                with torch.no_grad():
                    tgt, _ = self.mfm_teacher.forward_tokens(img, ids_keep=ids_masked)
                dec_m = torch.gather(dec, 1, ids_masked[:, :, None].expand(-1, -1, dec.shape[-1]))
                total = 0
                for head, t in zip(self.mfm_heads, tgt):
                    total = total + F.mse_loss(head(dec_m).float(), t.flatten(2).float())
                losses['loss_mfm'] = w * total
        return losses

    def _mfm_visible(self, outs, tgt):
        total = 0
        for head, o, t in zip(self.mfm_heads, outs, tgt):
            if t.dim() == 3:
                t = t[:, :, None, None, :]
            total = total + F.mse_loss(head(o).float(), t.float())
        return total

    def _loss_clip(self, inputs, data_samples):
        if isinstance(inputs, (list, tuple)):
            img, img_t = inputs[0], inputs[1] if len(inputs) > 1 else inputs[0]
        else:
            img = img_t = inputs
        B = img.shape[0]
        ps = self.backbone.patch_size
        grid = (img.shape[-2] // ps, img.shape[-1] // ps)
        if data_samples is not None and len(data_samples) and 'mask' in data_samples[0]:
            mask = torch.stack([torch.as_tensor(d.mask) for d in data_samples])
            mask = mask.flatten(1).bool().to(img.device)
        else:
            mask = self._block_masks(B, grid, img.device)
        depth = self.backbone.depths[2]
        aux_idx = int(0.75 * depth)
        use_aux = getattr(self.neck, 'aux_depth', 0) > 0
        res = self.backbone.forward_tokens(img, mask=mask,
                                           return_hidden=(aux_idx, ) if use_aux else ())
        latent = res[0]
        hidden = res[2][aux_idx] if use_aux else None
        rpe_index = None
        if use_aux and self.backbone.rpe:
            rpe_index = self.backbone._rpe_index(*grid, None)
        pred, aux, outs = self.neck(latent, hidden, rpe_index)
        target = self.target_generator(img_t)
        if target.shape[:2] != pred.shape[:2]:
            raise ValueError(f'iTPNPretrain: teacher gives {tuple(target.shape)} targets but the '
                             f'student predicts {tuple(pred.shape)}; set the teacher input_size '
                             'so both have the same token grid')
        if target.shape[-1] != pred.shape[-1]:
            raise ValueError(f'iTPNPretrain: teacher width {target.shape[-1]} != neck teacher_dim '
                             f'{pred.shape[-1]}')
        sel = mask if self.clip_loss_tokens == 'masked' else None
        losses = dict(loss=self._feature_loss(pred, target, sel))
        if aux is not None:
            losses['loss_aux'] = self._feature_loss(aux, target, sel)
        if self.mfm_cfg is not None:
            with torch.no_grad():
                tgt, _ = self.mfm_teacher.forward_tokens(img)
            losses['loss_mfm'] = self.mfm_cfg['loss_weight'] * self._mfm_visible(outs, tgt)
        return losses
