"""The converters against the official key names of ``official_keys.py`` (read from the official
model code, not from HVT).

Each test builds an official-layout state dict from those literal names (the remaining blocks
generated from one listed block with the official depths). Every tensor is a constant holding a
value unique to its key; shapes come from the HVT model only through the expected target name
(or, for keys the conversion drops, from the official code). The real converter (or the
backbone's load-time conversion) runs on it, the result must load strictly (no missing,
unexpected or shape-mismatched key) into the model of the matching HVT config, and every value
must arrive at the expected HVT key. Full-size models are built on the meta device.
"""
import importlib
import importlib.util
import os.path as osp
import warnings

import official_keys as ok
import pytest
import torch
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(ROOT, 'tools', 'model_converters', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_meta(config, **model_updates):
    """The model of an HVT config on the meta device (shapes only), without pre-trained weights
    or feature teachers."""
    from mmengine.registry import init_default_scope
    import hvt.models  # noqa: F401
    cfg = Config.fromfile(osp.join(ROOT, config))
    scope = cfg.get('default_scope', 'mmengine')
    init_default_scope(scope)
    registry = importlib.import_module(f'{scope}.registry').MODELS
    if cfg.model.get('backbone') is not None:
        cfg.model.backbone.init_cfg = None
    cfg.model.pop('target_generator', None)
    cfg.model.update(model_updates)
    with torch.device('meta'):
        return registry.build(cfg.model)


def official_state(names, expect, model_state, dropped_shapes=None):
    """``{official key: constant tensor}``: value ``i + 1`` for the ``i``-th key, shaped as the
    expected HVT key of ``model_state`` (or by ``dropped_shapes`` for keys the conversion drops).
    Returns the state dict and ``{expected HVT key: value}``."""
    assert len(set(names)) == len(names), 'duplicate official keys'
    state, values = {}, {}
    for i, k in enumerate(names):
        target = expect(k)
        if target is None:
            shape = dropped_shapes[k]
            dtype = torch.long if k.endswith('relative_position_index') else torch.float32
        else:
            assert target in model_state, f'official {k!r} -> {target!r}: not in the HVT model'
            ref = model_state[target]
            shape, dtype = tuple(ref.shape), ref.dtype
            values[target] = i + 1
        state[k] = torch.full((), i + 1, dtype=dtype).expand(shape)
    return state, values


def value(t):
    return t.reshape(-1)[0].item()


def assert_strict_and_placed(converted, values, model):
    """``converted`` loads strictly into ``model`` and each expected key holds its value."""
    with warnings.catch_warnings():  # copying into meta tensors is a no-op, said once per key
        warnings.simplefilter('ignore')
        model.load_state_dict(converted, strict=True)
    assert set(converted) == set(values)
    wrong = {k: (value(converted[k]), v) for k, v in values.items() if value(converted[k]) != v}
    assert not wrong, f'values at the wrong keys (got, expected): {list(wrong.items())[:5]}'


def classifier_key(k):
    """mmpretrain ImageClassifier name of an official classifier key."""
    return 'head.fc.' + k[len('head.'):] if k.startswith('head.') else 'backbone.' + k


# ------------------------------------------------------------------------------------------------
# ViTAE / ViTAEv2
# ------------------------------------------------------------------------------------------------
def vitaev2_s_backbone(layout):
    """ViTAEv2-S keys of the 'cls', 'det' (= seg) or 'pose' backbone, all NC blocks."""
    keys = list(ok.VITAEV2_S_STAGES)
    if layout != 'cls':
        keys = [k for k in keys if k not in ok.VITAEV2_RPE_INDEX]
    if layout == 'pose':
        keys += ok.VITAEV2_POSE_RPE
    out = [k for k in keys if '.NC.' not in k]
    for s, depth in enumerate(ok.VITAEV2_S_DEPTHS):
        out += ok.repeat_block(keys, f'layers.{s}.NC.0.', depth)
    return out


def vitaev2_dropped_shapes(names):
    """Shapes of the window attentions' index buffers and (pose) unused tables."""
    shapes = {}
    for k in names:
        parts = k[len('backbone.'):].split('.') if k.startswith('backbone.') else k.split('.')
        if k.endswith('relative_position_index'):
            shapes[k] = (49, 49)
        elif k.endswith('relative_position_bias_table'):  # (2 * 7 - 1) ** 2 x heads
            shapes[k] = (13 * 13, ok.VITAEV2_S_WINDOW_HEADS[f'layers.{parts[1]}.{parts[2]}'])
    return shapes


@pytest.mark.parametrize('arch,config,names', [
    ('vitae-t', 'configs/vitae/vitae-t_4xb128_in1k.py',
     lambda: ok.VITAE_T_RC + ok.repeat_block(ok.VITAE_NC, 'layers.2.NC.0.', ok.VITAE_T_DEPTH)
     + ok.CLS_HEAD),
    ('vitae-b', 'configs/vitae/vitae-b-p16_8xb128_in1k.py',
     lambda: ok.VITAE_B_STEM + ok.repeat_block(ok.VITAE_B_NC, 'layers.2.NC.0.', ok.VITAE_B_DEPTH)
     + ok.VITAE_B_HEAD),
    ('vitaev2-s', 'configs/vitaev2/vitaev2-s_8xb128_in1k.py',
     lambda: vitaev2_s_backbone('cls') + ok.CLS_HEAD),
])
def test_vitae_classifier(arch, config, names):
    conv = load_tool('vitae2hvt')
    model = build_meta(config)
    names = names()

    def expect(k):  # HVT rebuilds the window index
        return None if k.endswith('relative_position_index') else classifier_key(k)

    official, values = official_state(names, expect, model.state_dict(),
                                      vitaev2_dropped_shapes(names))
    converted, unmatched = conv.convert({'state_dict_ema': official}, mode='cls', log=lambda m: 0)
    assert unmatched == []
    assert_strict_and_placed(converted, values, model)


VITAEV2_WHOLE = {
    'mask-rcnn': ('configs/vitaev2/mask-rcnn_vitaev2-s_fpn_3x_coco.py', 'det',
                  lambda: ok.MMDET2_FPN + ok.MMDET2_RPN + ok.MMDET2_MASK_RCNN_ROI),
    'cascade': ('configs/vitaev2/cascade-mask-rcnn_vitaev2-s_fpn_3x_coco.py', 'det',
                lambda: ok.MMDET2_FPN + ok.MMDET2_RPN
                + ok.repeat_block(ok.MMDET2_CASCADE_4CONV1FC_STAGE0, 'roi_head.bbox_head.0.',
                                  ok.CASCADE_STAGES)
                + ok.repeat_block(ok.MMDET2_CASCADE_4CONV1FC_STAGE0, 'roi_head.mask_head.0.',
                                  ok.CASCADE_STAGES)),
    'upernet': ('configs/vitaev2/upernet_vitaev2-s_8xb2-160k_ade20k-512x512.py', 'det',
                lambda: ok.MMSEG0_UPERNET),
    'topdown': ('configs/vitaev2/td-hm_vitaev2-s_8xb64-210e_ap10k-256x256.py', 'pose',
                lambda: ok.MMPOSE0_TOPDOWN_HEAD),
}


@pytest.mark.parametrize('name', sorted(VITAEV2_WHOLE))
def test_vitaev2_whole_models(name):
    """Official mmdet 2.x / mmseg 0.x / mmpose 0.x ViTAEv2-S models -> the HVT configs."""
    config, layout, heads = VITAEV2_WHOLE[name]
    conv = load_tool('vitae2hvt')
    model = build_meta(config)
    names = ['backbone.' + k for k in vitaev2_s_backbone(layout)] + heads()

    def expect(k):
        if k.endswith(('relative_position_index', 'relative_position_bias_table')):
            return None  # rebuilt / unused by the official pose forward
        if k.startswith('keypoint_head.'):  # mmpose 0.x -> 1.x
            return 'head.' + k[len('keypoint_head.'):]
        return k

    official, values = official_state(names, expect, model.state_dict(),
                                      vitaev2_dropped_shapes(names))
    ckpt = {'meta': {'mmdet_version': '2.11.0'}, 'state_dict': official}
    converted, unmatched, framework = conv.convert_whole(ckpt, log=lambda m: 0)
    assert unmatched == []
    assert framework == {'topdown': 'mmpose', 'upernet': 'mmseg'}.get(name, 'mmdet')
    assert_strict_and_placed(converted, values, model)


def test_vitae_whole_cli(tmp_path, capsys):
    """The command line detects the whole model, checks it against --config and saves it."""
    conv = load_tool('vitae2hvt')
    config = VITAEV2_WHOLE['upernet'][0]
    model = build_meta(config)
    names = ['backbone.' + k for k in vitaev2_s_backbone('det')] + ok.MMSEG0_UPERNET
    official, values = official_state(names, lambda k: k, model.state_dict())
    src, dst = tmp_path / 'upernet_official.pth', tmp_path / 'upernet_hvt.pth'
    torch.save({'state_dict': official, 'meta': {}}, src)
    assert conv.main([str(src), str(dst), '--config', osp.join(ROOT, config)]) == 0
    out = capsys.readouterr().out
    assert 'mmseg whole model' in out and 'OK' in out
    saved = torch.load(dst, map_location='cpu', weights_only=True)['state_dict']
    assert value(saved['decode_head.conv_seg.weight']) == values['decode_head.conv_seg.weight']


# ------------------------------------------------------------------------------------------------
# Dual-ViT
# ------------------------------------------------------------------------------------------------
def dualvit_s_backbone(dense):
    """Dual-ViT-S backbone keys, all blocks; ``dense``: the detection / segmentation layout
    (the last stage-4 block has no mlp.fc_proxy)."""
    blocks = ok.DUALVIT_DUAL_BLOCKS + ok.DUALVIT_MERGE_BLOCKS
    out = list(ok.DUALVIT_STEM)
    for s, depth in enumerate(ok.DUALVIT_S_DEPTHS, start=1):
        out += ok.repeat_block(blocks, f'block{s}.0.', depth)
    out += ok.DUALVIT_STAGE_LINKS
    if dense:
        last = f'block4.{ok.DUALVIT_S_DEPTHS[3] - 1}.'
        out = [k for k in out if not (k.startswith(last) and k.endswith(ok.DUALVIT_FC_PROXY))]
    return out


def test_dualvit_classifier_and_dense():
    conv = load_tool('dualvit2hvt')
    model = build_meta('configs/dualvit/dualvit-s-tl_8xb128_in1k.py')
    names = dualvit_s_backbone(dense=False) + ok.DUALVIT_CLS_HEAD
    cls_head = ('post_network.', 'norm4.', 'head.', 'aux_head.')

    def expect(k):
        return 'head.' + k if k.startswith(cls_head) else 'backbone.' + k

    official, values = official_state(names, expect, model.state_dict())
    converted, report = conv.convert({'model': official}, 'cls')
    assert report['unmatched'] == []
    assert_strict_and_placed(converted, values, model)

    # the same ImageNet checkpoint as a dense backbone: classification parts dropped
    dense = build_meta('configs/dualvit/mask-rcnn_dualvit-s_fpn_1x_coco.py').backbone
    last = f'block4.{ok.DUALVIT_S_DEPTHS[3] - 1}.'

    def expect_dense(k):
        if k.startswith(('post_network.', 'head.', 'aux_head.')) or (
                k.startswith(last) and k.endswith(ok.DUALVIT_FC_PROXY)):
            return None
        return k

    shapes = {k: tuple(model.state_dict()[expect(k)].shape) for k in names}
    official, values = official_state(names, expect_dense, dense.state_dict(), shapes)
    converted, report = conv.convert({'model': official}, 'dense')
    assert report['unmatched'] == [] and len(report['dropped']) == len(names) - len(values)
    assert_strict_and_placed(converted, values, dense)


@pytest.mark.parametrize('config,heads', [
    ('configs/dualvit/mask-rcnn_dualvit-s_fpn_1x_coco.py',
     lambda: ok.MMDET2_FPN + ok.MMDET2_RPN + ok.MMDET2_MASK_RCNN_ROI),
    ('configs/dualvit/upernet_dualvit-s_8xb2-160k_ade20k-512x512.py', lambda: ok.MMSEG0_UPERNET),
])
def test_dualvit_whole_models(config, heads):
    conv = load_tool('dualvit2hvt')
    model = build_meta(config)
    names = ['backbone.' + k for k in dualvit_s_backbone(dense=True)] + heads()
    official, values = official_state(names, lambda k: k, model.state_dict())
    converted, report = conv.convert({'state_dict': official, 'meta': {}}, 'whole')
    assert report['unmatched'] == [] and report['dropped'] == []
    assert_strict_and_placed(converted, values, model)


# ------------------------------------------------------------------------------------------------
# iTPN
# ------------------------------------------------------------------------------------------------
def itpn_b_backbone(rpe=False, layer_scale=False):
    """HiViT-B (iTPN-B) keys, all blocks; with the rpe tables / index and layer scale."""
    keys = list(ok.ITPN_BLOCKS)
    if rpe:
        keys += [k for k in ok.ITPN_RPE if k.startswith('blocks.')]
    if layer_scale:
        keys += ok.ITPN_LAYER_SCALE
    d1, d2, d3 = ok.ITPN_B_DEPTHS
    out = list(ok.ITPN_STEM)
    out += ok.repeat_block(keys, 'blocks.0.', d1)
    out += ok.repeat_block(keys, 'blocks.3.', 1, start=d1)
    out += ok.repeat_block(keys, 'blocks.4.', d2, start=d1 + 1)
    out += ok.repeat_block(keys, 'blocks.7.', 1, start=d1 + d2 + 1)
    out += ok.repeat_block(keys, 'blocks.8.', d3, start=d1 + d2 + 2)
    if rpe:
        out.append('relative_position_index')
    return out


def itpn_pyramid(depth):
    keys = [k for k in ok.ITPN_PYRAMID if not k.startswith(('block_16to8.', 'block_8to4.'))]
    for step in ('block_16to8.0.', 'block_8to4.0.'):
        keys += ok.repeat_block(ok.ITPN_PYRAMID, step, depth)
    return keys


INDEX_SHAPES = {'relative_position_index': (196, 196),
                'backbone.relative_position_index': (1024, 1024)}  # 14x14 / 32x32 grids


PIXEL_PRETRAIN_CONFIG = 'configs/itpn/itpn-pixel_hivit-b-p16_64xb64-amp-coslr-1600e_in1k.py'


def itpn_pixel_pretraining(model_state):
    """Official pixel pre-training state (backbone, pyramid of depth 2, MAE decoder) and the
    expected values of the HVT iTPNPretrain keys."""
    decoder = [k for k in ok.ITPN_PIXEL_DECODER if not k.startswith('decoder_blocks.')]
    decoder += ok.repeat_block(ok.ITPN_PIXEL_DECODER, 'decoder_blocks.0.',
                               ok.ITPN_PIXEL_DECODER_DEPTH)
    backbone = itpn_b_backbone()
    return official_state(backbone + itpn_pyramid(2) + decoder,
                          lambda k: ('backbone.' if k in backbone else 'neck.') + k, model_state)


def test_itpn_pixel_pretraining():
    conv = load_tool('itpn2hvt')
    model = build_meta(PIXEL_PRETRAIN_CONFIG, mfm=None)
    official, values = itpn_pixel_pretraining(model.state_dict())
    converted, layout = conv.convert({'model': official})
    assert layout == 'official-pixel'
    assert_strict_and_placed(converted, values, model)


def test_itpn_clip_pretraining():
    """CLIP pre-training: rpe tables, layer scale, the stage-3 mask token in the backbone."""
    conv = load_tool('itpn2hvt')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/itpn/'
                                   'itpn-clip-b_hivit-b-p16_64xb32-amp-coslr-800e_in1k.py'))
    import hvt.models  # noqa: F401
    from hvt.registry import MODELS
    with torch.device('meta'):
        model = torch.nn.Module()
        model.backbone = MODELS.build(cfg.model.backbone)
        model.neck = MODELS.build(cfg.model.neck)
    aux = [k for k in ok.ITPN_CLIP_HEADS if not k.startswith('cls_pt_layers.')]
    aux += ok.repeat_block(ok.ITPN_CLIP_HEADS, 'cls_pt_layers.0.', 2)
    backbone = itpn_b_backbone(rpe=True, layer_scale=True)

    def expect(k):
        if k == 'relative_position_index':
            return None
        if k in backbone or k == 'mask_token':
            return 'backbone.' + k
        return 'neck.' + k

    official, values = official_state(backbone + itpn_pyramid(1) + aux, expect,
                                      model.state_dict(), INDEX_SHAPES)
    converted, layout = conv.convert({'model': official, 'teacher.proj': torch.zeros(1)})
    assert layout == 'official-clip'
    assert_strict_and_placed(converted, values, model)


def test_itpn_finetuned_classifier():
    conv = load_tool('itpn2hvt')
    model = build_meta('configs/itpn/itpn-hivit-b-p16_pixel-pre_8xb128-coslr-100e_in1k.py')
    names = itpn_b_backbone(rpe=True) + ok.ITPN_FINETUNE_HEAD

    def expect(k):
        return None if k == 'relative_position_index' else classifier_key(k)

    official, values = official_state(names, expect, model.state_dict(), INDEX_SHAPES)
    converted, layout = conv.convert({'model': official})
    assert layout == 'official-finetune'
    assert_strict_and_placed(converted, values, model)


def test_itpn_cli_pretraining_file_feeds_the_downstream_wrapper(tmp_path):
    """Official pre-training files pickle an argparse.Namespace: refused unless trusted; the
    converted file gives the detection wrapper every backbone and pyramid weight."""
    import argparse

    import hvt.models  # noqa: F401
    from hvt.engine.pretrained import load_pretrained
    from hvt.registry import MODELS
    from toolkit import run_tool
    model = build_meta(PIXEL_PRETRAIN_CONFIG, mfm=None)
    official, _ = itpn_pixel_pretraining(model.state_dict())
    src, dst = tmp_path / 'itpn_pixel_base.pth', tmp_path / 'hvt.pth'
    torch.save({'model': official, 'args': argparse.Namespace(model='itpn_base_dec512d8b')}, src)
    out = run_tool('model_converters/itpn2hvt.py', src, dst, timeout=300, check=False)
    assert '--trust-pickle' in out and not dst.exists()
    out = run_tool('model_converters/itpn2hvt.py', src, dst, '--trust-pickle', timeout=300)
    assert 'official-pixel' in out
    with torch.device('meta'):
        det = MODELS.build(dict(type='hvt.iTPNDet', arch='b', fpn_depth=2))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        report = load_pretrained(det, str(dst))
    assert report.missing == [] and report.mismatched == []


@pytest.mark.parametrize('config,rpe,layer_scale,depth,heads', [
    ('configs/itpn/mask-rcnn_itpn-b-pixel_1x_coco.py', False, False, 1,
     lambda: ok.MMDET2_RPN + ok.MMDET2_ROI_4CONV1FC),
    ('configs/itpn/mask-rcnn_itpn-b-clip_3x_coco.py', False, True, 1,
     lambda: ok.MMDET2_RPN + ok.MMDET2_ROI_4CONV1FC),
    ('configs/itpn/upernet_itpn-b-pixel_8xb2-160k_ade20k-512x512.py', True, False, 2,
     lambda: ok.MMSEG0_UPERNET),
])
def test_itpn_whole_models(config, rpe, layer_scale, depth, heads):
    """Official det (iTPN_pixel / iTPN_CLIP, pyramid inside the backbone) and seg models."""
    conv = load_tool('itpn2hvt')
    model = build_meta(config)
    pyramid = ['backbone.' + k for k in itpn_pyramid(depth)]
    names = (['backbone.' + k for k in itpn_b_backbone(rpe, layer_scale)] + pyramid + heads())

    def expect(k):
        if k == 'backbone.relative_position_index':
            return None
        if k in pyramid:
            return 'backbone.pyramid.' + k[len('backbone.'):]
        return k

    official, values = official_state(names, expect, model.state_dict(), INDEX_SHAPES)
    converted, layout = conv.convert({'state_dict': official, 'meta': {}}, 'whole')
    assert layout == ('official-seg' if 'upernet' in config else 'official-det')
    assert_strict_and_placed(converted, values, model)


# ------------------------------------------------------------------------------------------------
# Fast-iTPN
# ------------------------------------------------------------------------------------------------
def fast_itpn_t_names():
    early = [k for k in ok.FAST_ITPN_BLOCKS if not k.startswith('blocks.4.')]
    main = ok.repeat_block(ok.FAST_ITPN_BLOCKS, 'blocks.4.', ok.FAST_ITPN_T_DEPTH, start=4)
    return ok.FAST_ITPN_STEM + early + main + ok.FAST_ITPN_HEAD


def test_fast_itpn_load_time_conversion_and_converter():
    """An official Fast-iTPN-T fine-tuning checkpoint loads into hvt.FastiTPN at init (only the
    classifier's head left over) and converts to the ImageClassifier of the HVT config."""
    import hvt.models  # noqa: F401
    from hvt.engine.pretrained import load_pretrained
    from hvt.registry import MODELS
    names = fast_itpn_t_names()
    model = build_meta('configs/fast_itpn/fast-itpn-t_8xb128_in1k.py')
    official, values = official_state(names, classifier_key, model.state_dict())

    # at another input size (20x20 grid): the 14x14 position table is resized bicubically
    backbone = MODELS.build(dict(type='hvt.FastiTPN', arch='t', img_size=320,
                                 out_type='avg_featmap'))
    report = load_pretrained(backbone, {'model': official}, max_missing_ratio=0)
    assert report.missing == [] and report.mismatched == []
    assert sorted(report.unexpected) == ['head.bias', 'head.weight']
    for k, v in backbone.state_dict().items():
        if k == 'pos_embed':  # a constant table stays constant through the resize
            assert v.shape == (1, 400, 384)
            torch.testing.assert_close(v, torch.full_like(v, values['backbone.' + k]))
        else:
            assert value(v) == values['backbone.' + k], k

    converted, layout = load_tool('itpn2hvt').convert({'model': official})
    assert layout == 'fast-itpn-finetune'
    assert_strict_and_placed(converted, values, model)


# ------------------------------------------------------------------------------------------------
# Layouts that are refused
# ------------------------------------------------------------------------------------------------
def test_fast_itpn_whole_model_refused_backbone_offered():
    """No official Fast-iTPN downstream layout exists: refused with the reason; --mode backbone
    extracts the backbone, which hvt.FastiTPNDet loads."""
    import hvt.models  # noqa: F401
    from hvt.engine.whole_model import UnsupportedLayout
    from hvt.registry import MODELS
    conv = load_tool('itpn2hvt')
    det = MODELS.build(dict(type='hvt.FastiTPNDet', arch='t'))
    names = [k for k in fast_itpn_t_names() if not k.startswith(('head.', 'fc_norm.'))]
    state, _ = official_state(names, lambda k: k, det.state_dict())
    whole = {'state_dict': {**{'backbone.' + k: v for k, v in state.items()},
                            'rpn_head.rpn_conv.weight': torch.zeros(1)}}
    with pytest.raises(UnsupportedLayout, match='Fast-iTPN.*--mode backbone'):
        conv.convert(whole, 'auto', source='fast_mask_rcnn.pth')
    bare, layout = conv.convert(whole, 'backbone')
    assert layout == 'fast-itpn-backbone' and set(bare) == set(names)
    missing = det.load_pretrained(bare)
    assert sorted(missing) == sorted(k for k in det.state_dict() if k.startswith('pyramid.'))


@pytest.mark.parametrize('tool,kwargs,backbone_mode', [
    ('vitae2hvt', {}, 'backbone'), ('dualvit2hvt', {'mode': 'whole'}, 'dense'),
    ('itpn2hvt', {}, 'backbone'),
])
def test_detrex_layout_refused(tool, kwargs, backbone_mode):
    from hvt.engine.whole_model import UnsupportedLayout
    conv = load_tool(tool)
    ckpt = {'model': {k: torch.zeros(1) for k in ok.DETREX_DINO_SAMPLE}}
    convert = conv.convert_whole if tool == 'vitae2hvt' else conv.convert
    with pytest.raises(UnsupportedLayout, match=f'detrex.*--mode {backbone_mode}'):
        convert(ckpt, **kwargs)


def test_refusal_cli_names_file_and_reason(tmp_path):
    """The command line refuses a detrex DINO, naming the file and the reason, and extracts its
    (here Fast-iTPN) backbone with --mode backbone --prefix."""
    from toolkit import run_tool
    backbone = [k for k in fast_itpn_t_names() if not k.startswith(('head.', 'fc_norm.'))]
    state = {k: torch.zeros(1) for k in ok.DETREX_DINO_SAMPLE if not k.startswith('backbone.')}
    state.update({'backbone.net.' + k: torch.zeros(1) for k in backbone})
    src = tmp_path / 'dino_fast_itpn.pth'
    torch.save({'model': state}, src)
    out = run_tool('model_converters/itpn2hvt.py', src, tmp_path / 'out.pth', check=False,
                   timeout=300)
    assert 'dino_fast_itpn.pth' in out and 'detrex' in out and '--mode backbone' in out
    assert not (tmp_path / 'out.pth').exists()
    out = run_tool('model_converters/itpn2hvt.py', src, tmp_path / 'bb.pth', '--mode',
                   'backbone', '--prefix', 'backbone.net.', timeout=300)
    assert 'fast-itpn-backbone' in out
    bare = torch.load(tmp_path / 'bb.pth', map_location='cpu', weights_only=True)['state_dict']
    assert sorted(bare) == sorted(backbone)


@pytest.mark.parametrize('tool', ['vitae2hvt', 'dualvit2hvt', 'itpn2hvt'])
def test_help_lists_layouts(tool, capsys):
    with pytest.raises(SystemExit):
        load_tool(tool).main(['--help'])
    out = capsys.readouterr().out
    assert 'Layouts handled' in out and 'whole' in out and 'refused' in out.lower()
