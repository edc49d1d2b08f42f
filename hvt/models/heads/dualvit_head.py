"""Classification head of Dual-ViT (Yao et al., TPAMI 2023; docs/design/dualvit.md
section 2.7): the class-attention post network, ``norm4``, ``head`` and the token-labeling
``aux_head``, on the output of ``DualViT(mode='cls')``. Parameter names are the official ones
(``tools/model_converters/dualvit2hvt.py`` maps them by prefixing ``head.``)."""
import torch
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from torch import nn

from hvt.registry import MODELS
from ..layers.dualvit_blocks import ClassBlock, dualvit_init_weights


def _soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    # fp32 under mixed precision: a log-softmax over 1000 classes and its mean (mixed_precision.md)
    return torch.sum(-target.float() * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()


@MODELS.register_module()
class DualViTClsHead(ClsHead):
    """Classification head of Dual-ViT: class-attention post network, ``norm4``, ``head`` and,
    for token labeling, ``aux_head``
    (docs/design/dualvit.md#classification-post-network-and-token-labeling). Takes the output of
    ``DualViT(mode='cls')``.

    The cls token is the mean of all stage-4 tokens (pixel + semantic); one class-attention
    block refines it, ``norm4`` normalises, ``head`` classifies. With ``token_label=True`` the
    pixel tokens after ``norm4`` also go through ``aux_head``; inference returns
    ``logits + aux_eval_weight * max_over_tokens(aux)``, and training adds
    ``aux_loss_weight * soft-CE(aux, dense token labels)``. The dense labels (e.g. the NFNet
    label maps of LV-ViT/VOLO) must be attached to every data sample as ``gt_token_label``:
    a ``(num_classes, h, w)`` score map or an ``(h, w)`` class-index map, area-resized to the
    stage-4 grid. HVT does not ship such maps or their loader; without them the token-label
    loss raises an error. If the backbone applied MixToken, the aux predictions are un-mixed
    and the class target is mixed with lambda = 1 - box area / tokens.

    Args:
        num_classes (int): classes.
        in_channels (int): C4 of the backbone.
        num_heads (int): heads of the class-attention block (= stage-4 heads).
        mlp_ratio (float): FFN ratio of the class block (2).
        token_label (bool): build ``aux_head`` and use the token-labeling objective.
        aux_loss_weight (float): weight of the dense token-label loss (0.5). With 0 the
            dense loss is skipped and no label maps are needed (``aux_head`` then gets no
            gradient: set ``find_unused_parameters`` when training distributed).
        aux_eval_weight (float): weight of ``max(aux)`` added at inference (0.5).
        aux_label_smoothing (float): label smoothing of the dense targets (0.1 officially).
        norm_eps (float): eps of the block norms and ``norm4`` (1e-6).
        loss (dict): class loss; must accept soft targets when Mixup/CutMix or MixToken is on.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 num_heads: int,
                 mlp_ratio: float = 2.,
                 token_label: bool = False,
                 aux_loss_weight: float = 0.5,
                 aux_eval_weight: float = 0.5,
                 aux_label_smoothing: float = 0.,
                 norm_eps: float = 1e-6,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 init_cfg=None,
                 **kwargs):
        super().__init__(loss=loss, init_cfg=init_cfg, **kwargs)
        if num_classes <= 0:
            raise ValueError(f'DualViTClsHead: num_classes={num_classes} must be positive')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.token_label = token_label
        self.aux_loss_weight = aux_loss_weight
        self.aux_eval_weight = aux_eval_weight
        self.aux_label_smoothing = aux_label_smoothing
        self.post_network = nn.ModuleList([ClassBlock(in_channels, num_heads, mlp_ratio,
                                                      norm_eps)])
        self.norm4 = nn.LayerNorm(in_channels, eps=norm_eps)
        self.head = nn.Linear(in_channels, num_classes)
        if token_label:
            self.aux_head = nn.Linear(in_channels, num_classes)

    def init_weights(self):
        if self.init_cfg is not None:
            super().init_weights()
            return
        self.apply(dualvit_init_weights)

    @staticmethod
    def _unpack(feats):
        out = feats[-1] if isinstance(feats, (tuple, list)) else feats
        if not (isinstance(out, (tuple, list)) and len(out) in (2, 3)
                and out[0].dim() == 4 and out[1].dim() == 3):
            raise TypeError('DualViTClsHead expects the last output of DualViT(mode="cls"): '
                            '(pixel map (B, C, H, W), semantic tokens (B, m, C)[, mix box])')
        return out[0], out[1], (out[2] if len(out) == 3 else None)

    def _tokens(self, feats):
        x_map, z, box = self._unpack(feats)
        B, C, H, W = x_map.shape
        t = torch.cat([x_map.flatten(2).transpose(1, 2), z], dim=1)
        t = torch.cat([t.mean(dim=1, keepdim=True), t], dim=1)
        for blk in self.post_network:
            t = blk(t)
        if self.token_label:
            t = self.norm4(t)
            return t[:, 0], t[:, 1:1 + H * W], (H, W), box
        return self.norm4(t[:, 0]), None, (H, W), box

    def pre_logits(self, feats):
        """The normalised class token (B, C4)."""
        return self._tokens(feats)[0]

    def forward(self, feats):
        """Inference logits: ``head(cls)`` (+ ``aux_eval_weight * max(aux)`` with TL)."""
        cls, pix, _, _ = self._tokens(feats)
        logits = self.head(cls)
        if self.token_label:
            logits = logits + self.aux_eval_weight * self.aux_head(pix).max(dim=1)[0]
        return logits

    def _targets(self, data_samples):
        if 'gt_score' in data_samples[0]:
            return torch.stack([ds.gt_score for ds in data_samples])
        return torch.cat([ds.gt_label for ds in data_samples])

    def _dense_targets(self, data_samples, hw, device):
        maps = []
        for ds in data_samples:
            if 'gt_token_label' not in ds:
                raise KeyError(
                    'DualViTClsHead(token_label=True) needs dense token labels: attach a '
                    '(num_classes, h, w) score map or an (h, w) index map as '
                    '`gt_token_label` to every data sample (e.g. the NFNet label maps of '
                    'LV-ViT/VOLO). HVT does not ship them; train with token_label=False '
                    '(the Dual-ViT-S 83.4% recipe) if you do not have them.')
            t = torch.as_tensor(ds.gt_token_label, device=device)
            if not t.is_floating_point():
                t = F.one_hot(t.long(), self.num_classes).permute(2, 0, 1).float()
            if t.dim() != 3 or t.shape[0] != self.num_classes:
                raise ValueError(f'gt_token_label must be (num_classes={self.num_classes}, '
                                 f'h, w) or (h, w) indices, got {tuple(t.shape)}')
            maps.append(F.adaptive_avg_pool2d(t[None].float(), hw)[0])
        t = torch.stack(maps).flatten(2).transpose(1, 2)  # (B, H*W, K)
        t = t / t.sum(dim=-1, keepdim=True).clamp_min(1e-12)
        eps = self.aux_label_smoothing
        return t * (1 - eps) + eps / self.num_classes

    def loss(self, feats, data_samples, **kwargs):
        cls, pix, hw, box = self._tokens(feats)
        logits = self.head(cls)
        target = self._targets(data_samples)
        losses = {}
        if box is not None:
            # MixToken: the class target mixes with the flipped batch by the unmixed area
            if target.dim() == 1:
                target = F.one_hot(target.long(), self.num_classes).to(logits.dtype)
            r1, c1, r2, c2 = box
            lam = 1. - (r2 - r1) * (c2 - c1) / float(hw[0] * hw[1])
            target = lam * target + (1. - lam) * target.flip(0)
        losses['loss'] = self.loss_module(logits, target, avg_factor=logits.size(0),
                                          **kwargs)
        if self.token_label and self.aux_loss_weight > 0:
            aux = self.aux_head(pix)
            if box is not None:
                r1, c1, r2, c2 = box
                B, _, K = aux.shape
                a = aux.reshape(B, hw[0], hw[1], K)
                un = a.clone()
                un[:, r1:r2, c1:c2] = a.flip(0)[:, r1:r2, c1:c2]
                aux = un.reshape(B, -1, K)
            dense = self._dense_targets(data_samples, hw, aux.device)
            losses['loss_aux'] = self.aux_loss_weight * _soft_cross_entropy(
                aux.flatten(0, 1), dense.flatten(0, 1).to(aux.dtype))
        return losses
