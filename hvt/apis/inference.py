"""One-image inference for every HVT task, as a thin layer over the OpenMMLab libraries.

    from hvt.apis import init_model, inference, show_result
    model = init_model('configs/vitaev2/mask-rcnn_vitaev2-s_fpn_1x_coco.py', 'epoch_12.pth')
    result = inference(model, 'demo.jpg')            # the library's own data sample
    show_result(model, 'demo.jpg', result, 'out.png')

The task comes from the config's ``default_scope``:

=============  ===============  ======================================  ==========================
scope          task             built and run by                        ``inference`` returns
=============  ===============  ======================================  ==========================
mmpretrain     classification   ``get_model`` +                         ``DataSample`` (pred_label,
                                ``ImageClassificationInferencer``       pred_score)
mmdet          detection        ``init_detector`` /                     ``DetDataSample``
                                ``inference_detector``                  (pred_instances)
mmseg          segmentation     ``init_model`` / ``inference_model``    ``SegDataSample``
                                                                        (pred_sem_seg)
mmpose         pose             ``init_model`` / ``inference_topdown``  ``PoseDataSample``, one
                                                                        instance per box
=============  ===============  ======================================  ==========================

Every call runs under the model's own default scope and restores the caller's afterwards, so models
of different libraries can live in one process. The test pipeline is the one of
``test_dataloader`` (what ``tools/test.py`` evaluates with), also for mmseg, whose own API would
read the top-level ``test_pipeline`` variable instead.
"""
import copy
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from hvt.engine.cli import load_config
from hvt.engine.safe_globals import register_safe_globals
from hvt.engine.weights import SCHEME, local_checkpoint, zoo_model

TASKS = {
    'mmpretrain': 'classification',
    'mmdet': 'detection',
    'mmseg': 'segmentation',
    'mmpose': 'pose',
}
# the model types each task can run one image through
MODEL_TYPES = {
    'classification': ('ImageClassifier', ),
    'segmentation': ('EncoderDecoder', 'CascadeEncoderDecoder'),
    'pose': ('TopdownPoseEstimator', ),
}


def task_of(cfg: Config) -> str:
    """The task of a config: from ``default_scope``, else from ``model.type``."""
    scope = cfg.get('default_scope')
    if scope is not None:
        if scope not in TASKS:
            raise ValueError(f'unknown task: default_scope={scope!r} (model.type='
                             f'{cfg.model.get("type")!r}); hvt.apis handles default_scope in '
                             f'{sorted(TASKS)}')
        task = TASKS[scope]
    else:
        mtype = str(cfg.model.get('type', '')).split('.')[-1]
        found = [t for t, types in MODEL_TYPES.items() if mtype in types]
        if not found:
            raise ValueError(f'unknown task: the config has no default_scope and model.type '
                             f'{cfg.model.get("type")!r} is none of {MODEL_TYPES}; set '
                             f'default_scope to one of {sorted(TASKS)}')
        task = found[0]
    mtype = str(cfg.model.get('type', '')).split('.')[-1]
    if task in MODEL_TYPES and mtype not in MODEL_TYPES[task]:
        raise ValueError(f'{task} inference needs model.type in {MODEL_TYPES[task]}, got '
                         f'{cfg.model.get("type")!r} (pre-training configs have no inference)')
    return task


def scope_of_task(task: str) -> str:
    return {t: s for s, t in TASKS.items()}[task]


def init_model(config, checkpoint=None, device='cpu', cfg_options=None, pretrained=False):
    """Build the model of ``config`` (path or ``Config``), load ``checkpoint``, move to ``device``.

    ``config`` may also be a model-zoo name (``'vitaev2-s_8xb128_in1k'``, the README's model zoo)
    or an official weight name (``'vitaev2-s_in1k'``); ``pretrained=True`` then loads that model's
    official weights (downloaded and converted on first use, see
    ``tools/misc/fetch_weights.py``). ``checkpoint`` accepts ``official:NAME`` too.

    ``checkpoint=None`` keeps the random initialisation (no pretrained backbone is loaded either:
    the library builders skip ``init_weights``). The returned model has ``model.cfg``,
    ``model.task`` and ``model.dataset_meta`` (class names, palette, skeleton, from the checkpoint
    when it has them).
    """
    if pretrained and checkpoint is not None:
        raise ValueError('init_model: give either checkpoint or pretrained=True, not both')
    if (not isinstance(config, Config) and not osp.isfile(str(config))
            and not str(config).endswith('.py')):
        config, zoo_options, official = zoo_model(str(config))
        cfg_options = dict(zoo_options, **(cfg_options or {}))
        if pretrained:
            if official is None:
                raise ValueError(f'init_model: {config} has no official weights in the '
                                 'catalog (tools/misc/fetch_weights.py --list)')
            checkpoint = SCHEME + official
    elif pretrained:
        raise ValueError('init_model: pretrained=True needs a model-zoo name, e.g. '
                         "init_model('vitaev2-s_8xb128_in1k', pretrained=True); with a config "
                         'path pass checkpoint=...')
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
    else:
        cfg = load_config(str(config), cfg_options)
    if checkpoint is not None:
        checkpoint = local_checkpoint(str(checkpoint))  # official:NAME -> the cached file
    task = task_of(cfg)
    _import_modules(cfg)
    register_safe_globals()  # mmengine checkpoints hold objects a weights-only torch.load refuses
    with DefaultScope.overwrite_default_scope(scope_of_task(task)):
        if task == 'classification':
            from mmpretrain.apis import get_model
            model = get_model(cfg, pretrained=checkpoint or False, device=device)
            model.dataset_meta = dict(model._dataset_meta)
        elif task == 'detection':
            from mmdet.apis import init_detector
            model = init_detector(cfg, checkpoint, device=device)
        elif task == 'segmentation':
            from mmseg.apis import init_model as init_segmentor
            # mmseg's inference reads the top-level `test_pipeline`; use the test loader's
            cfg.test_pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
            model = init_segmentor(cfg, checkpoint, device=device)
        else:
            from mmpose.apis import init_model as init_pose_estimator
            model = init_pose_estimator(cfg, checkpoint, device=device)
    model.cfg = cfg
    model.task = task
    return model


def _import_modules(cfg):
    """``type='hvt.X'`` needs hvt's modules registered, also for a ``Config`` built elsewhere."""
    import hvt.engine  # noqa: F401
    import hvt.models  # noqa: F401
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg.custom_imports)


def _check_image(image):
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f'image array must be H x W x 3 (BGR), got shape {image.shape}')
        return image
    image = str(image)
    if not osp.isfile(image):
        raise FileNotFoundError(f'image not found: {image!r}')
    return image


def _model_task(model):
    task = getattr(model, 'task', None)
    if task not in MODEL_TYPES and task != 'detection':
        raise ValueError('model was not built by hvt.apis.init_model (no valid `model.task`, '
                         f'got {task!r}; expected one of {sorted(TASKS.values())})')
    return task


def inference(model, image, bboxes=None, bbox_format='xyxy'):
    """Run one image (path, or H x W x 3 BGR array) through ``model``.

    Returns the library's data sample (see the module table). ``bboxes`` (N x 4) are the
    instances for top-down pose; without them the whole image is one box.
    """
    task = _model_task(model)
    if bboxes is not None and task != 'pose':
        raise ValueError(f'bboxes are only used by top-down pose models, not {task}')
    image = _check_image(image)
    with DefaultScope.overwrite_default_scope(scope_of_task(task)), torch.no_grad():
        if task == 'classification':
            inferencer = getattr(model, '_hvt_inferencer', None)
            if inferencer is None:
                from mmpretrain.apis import ImageClassificationInferencer
                inferencer = ImageClassificationInferencer(model, pretrained=False)
                model._hvt_inferencer = inferencer
            # its pipeline and forward, without the progress bar of __call__
            return inferencer.forward(next(inferencer.preprocess([image])))[0]
        if task == 'detection':
            from mmdet.apis import inference_detector
            return inference_detector(model, image)
        if task == 'segmentation':
            from mmseg.apis import inference_model
            return inference_model(model, image)
        from mmpose.apis import inference_topdown
        from mmpose.structures import merge_data_samples
        if bboxes is not None:
            bboxes = np.asarray(bboxes, dtype=np.float32).reshape(-1, 4)
        return merge_data_samples(inference_topdown(model, image, bboxes, bbox_format))


def _rgb(image):
    import mmcv
    if isinstance(image, np.ndarray):
        return np.ascontiguousarray(image[..., ::-1])
    return mmcv.imread(image, channel_order='rgb')


def show_result(model, image, result, out_file=None, topk=5, score_thr=0.3, kpt_thr=0.3,
                opacity=0.5):
    """Draw ``result`` on ``image`` with the library's visualizer; save to ``out_file`` if given.

    Classification: the ``topk`` classes with scores. Detection: boxes (and masks) scoring at least
    ``score_thr``. Segmentation: the class map over the image (``opacity``). Pose: boxes, keypoints
    above ``kpt_thr`` and the skeleton. Returns the drawn RGB image (same size as the input).
    """
    task = _model_task(model)
    img = _rgb(_check_image(image))
    if task == 'classification':  # draw the top k classes, not only the argmax
        k = max(1, min(int(topk), result.pred_score.numel()))
        result = result.clone().set_pred_label(result.pred_score.topk(k).indices)
    return draw_sample(task, img, result, getattr(model, 'dataset_meta', None), out_file,
                       gt=False, score_thr=score_thr, kpt_thr=kpt_thr, opacity=opacity)


# Label text follows the image: a fixed font (mmdet and mmpose draw 13 pt at most, mmpretrain 7 pt
# times short side / 224, at least 2 pt) is unreadable on small images or covers tiny ones. The
# drawing keeps the input's size; only the text scales.
LABEL_FONT_FRACTION = 1 / 20  # of the image's shorter side: the height of a label line, in pixels
LABEL_FONT_PIXELS = (7, 40)  # clamped: still legible on a 64-pixel image, not huge on a photo


def label_font_size(shape, dpi=72.0):
    """The font size, in points (what matplotlib and mmengine's ``draw_texts`` take), for labels on
    an image of ``shape`` (H, W, ...) drawn at ``dpi``: 1/20 of the shorter side in pixels,
    clamped to 7 .. 40 pixels."""
    low, high = LABEL_FONT_PIXELS
    pixels = min(max(min(shape[:2]) * LABEL_FONT_FRACTION, low), high)
    return pixels * 72.0 / dpi


class _ImageScaledLabels:
    """Mixed into a library visualizer: every text it draws gets the current image's
    :func:`label_font_size` instead of the library's own size."""

    def draw_texts(self, texts, positions, font_sizes=None, **kwargs):
        size = label_font_size((self.height, self.width), self.dpi)
        return super().draw_texts(texts, positions, font_sizes=size, **kwargs)


_SCALED_VISUALIZERS = {}


def _scaled_visualizer(base, name, **kwargs):
    """The instance ``name`` of ``base`` (a library visualizer class) with image-scaled labels."""
    cls = _SCALED_VISUALIZERS.get(base)
    if cls is None:
        cls = type(f'HVT{base.__name__}', (_ImageScaledLabels, base), {})
        _SCALED_VISUALIZERS[base] = cls
    return cls.get_instance(name, **kwargs)


def draw_sample(task, image, sample, dataset_meta=None, out_file=None, gt=False, score_thr=0.3,
                kpt_thr=0.3, opacity=0.5):
    """Draw the predictions (``gt=False``) or the annotations (``gt=True``) of a data sample on an
    RGB image with the task library's visualizer; returns the drawn RGB image, of the input's size.
    Label text is sized to the image (:func:`label_font_size`); segmentation's class names are
    drawn by mmseg, which already scales them with the image."""
    if task not in TASKS.values():
        raise ValueError(f'unknown task {task!r}; expected one of {sorted(TASKS.values())}')
    meta = dict(dataset_meta or {})
    if out_file:
        out_dir = osp.dirname(osp.abspath(out_file))
        if not osp.isdir(out_dir):
            raise FileNotFoundError(f'output folder of {out_file!r} does not exist')
    flags = dict(draw_gt=gt, draw_pred=not gt, out_file=out_file)
    with DefaultScope.overwrite_default_scope(scope_of_task(task)):
        if task == 'classification':
            from mmpretrain.visualization import UniversalVisualizer
            vis = UniversalVisualizer.get_instance('hvt.apis.classification')
            text_cfg = dict(size=label_font_size(image.shape, vis.dpi))
            return vis.visualize_cls(image, sample, classes=meta.get('classes'), text_cfg=text_cfg,
                                     **flags)
        if task == 'detection':
            from mmdet.visualization import DetLocalVisualizer
            vis = _scaled_visualizer(DetLocalVisualizer, 'hvt.apis.detection')
            vis.dataset_meta = meta
            if gt:
                sample = _plain_gt_instances(sample)
            vis.add_datasample('sample', image, sample, pred_score_thr=score_thr, **flags)
        elif task == 'segmentation':
            from mmseg.visualization import SegLocalVisualizer
            vis = SegLocalVisualizer.get_instance('hvt.apis.segmentation')
            vis.alpha = opacity
            vis.set_dataset_meta(classes=meta.get('classes'), palette=meta.get('palette'))
            vis.add_datasample('sample', image, sample, **flags)
        else:
            from mmpose.visualization import PoseLocalVisualizer
            # mmpose 1.3's OpenCV backend draws keypoints with int(np.array([r])), which numpy >= 2
            # refuses ("only 0-dimensional arrays can be converted"); matplotlib's draws the same
            vis = _scaled_visualizer(PoseLocalVisualizer, 'hvt.apis.pose', backend='matplotlib')
            vis.set_dataset_meta(meta)
            # annotations after the top-down crop have no box in the crop's frame
            vis.add_datasample('sample', image, sample, draw_bbox=not gt, kpt_thr=kpt_thr, **flags)
        return vis.get_image()


def _plain_gt_instances(sample):
    """Annotations as a dataset yields them (box objects, bitmap/polygon masks) -> the tensors and
    boolean arrays mmdet's visualizer draws."""
    from mmdet.structures.bbox import BaseBoxes
    from mmdet.structures.mask import BaseInstanceMasks
    sample = sample.clone()
    inst = sample.gt_instances
    if isinstance(inst.get('bboxes'), BaseBoxes):
        inst.bboxes = inst.bboxes.tensor
    if isinstance(inst.get('masks'), BaseInstanceMasks):
        inst.masks = inst.masks.to_ndarray().astype(bool)
    return sample
