"""Run one image through a trained model of any HVT task and draw the result.

    python demo/image_demo.py IMAGE CONFIG CHECKPOINT --out result.png
    python demo/image_demo.py dog.jpg configs/vitaev2/vitaev2-s_8xb128_in1k.py vitaev2-s.pth \
        --topk 5
    python demo/image_demo.py street.jpg configs/vitaev2/mask-rcnn_vitaev2-s_fpn_1x_coco.py \
        epoch_12.pth --score-thr 0.5 --out street_det.png
    python demo/image_demo.py animal.jpg \
        configs/vitaev2/td-hm_vitaev2-s_8xb64-210e_ap10k-256x256.py epoch_210.pth \
        --bboxes 10,20,200,180 30,40,90,120   # top-down pose: one box per --bboxes item

The task (classification, detection / instance segmentation, semantic segmentation, top-down
pose) comes from the config's default_scope. Pose without --bboxes uses the whole image as one box.
The drawing has the image's own size; its label text is sized to the image (1/20 of the shorter
side, 7 to 40 pixels: hvt.apis.inference.label_font_size).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone, too

from mmengine.config import DictAction  # noqa: E402

from hvt.apis import inference, init_model, show_result  # noqa: E402


def parse_box(text):
    try:
        box = [float(v) for v in text.split(',')]
    except ValueError:
        box = []
    if len(box) != 4 or box[2] <= box[0] or box[3] <= box[1]:
        raise argparse.ArgumentTypeError(
            f'bad box {text!r}: expected x1,y1,x2,y2 in pixels with x2 > x1 and y2 > y1')
    return box


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('image', help='image file')
    p.add_argument('config', help='config file')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('--out', default='result.png', help='where to save the drawing (result.png)')
    p.add_argument('--device', default='cpu', help='cpu, cuda, cuda:1, ...')
    p.add_argument('--topk', type=int, default=5, help='classification: classes to draw')
    p.add_argument('--score-thr', type=float, default=0.3,
                   help='detection: draw boxes scoring at least this')
    p.add_argument('--kpt-thr', type=float, default=0.3, help='pose: draw keypoints above this')
    p.add_argument('--bboxes', nargs='+', type=parse_box, metavar='x1,y1,x2,y2',
                   help='pose: the instance boxes (default: the whole image)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config keys, e.g. test_dataloader.dataset.pipeline.1.scale=224')
    return p.parse_args(argv)


def summary(model, result, args):
    """One line per prediction, for the terminal."""
    classes = (model.dataset_meta or {}).get('classes')

    def name(i):
        return classes[i] if classes is not None and i < len(classes) else str(i)

    if model.task == 'classification':
        scores = result.pred_score
        top = scores.topk(min(args.topk, scores.numel()))
        return [f'{name(int(i))}: {float(s):.3f}' for s, i in zip(top.values, top.indices)]
    if model.task == 'detection':
        inst = result.pred_instances
        keep = inst.scores >= args.score_thr
        lines = [f'{int(keep.sum())} of {len(inst)} instances score >= {args.score_thr}']
        for box, label, score in zip(inst.bboxes[keep], inst.labels[keep], inst.scores[keep]):
            lines.append(f'{name(int(label))}: {float(score):.3f} box '
                         + ','.join(f'{float(v):.1f}' for v in box))
        return lines
    if model.task == 'segmentation':
        seg = result.pred_sem_seg.data.flatten()
        ids, counts = seg.unique(return_counts=True)
        order = counts.argsort(descending=True)
        return [f'{name(int(ids[j]))}: {100.0 * int(counts[j]) / seg.numel():.1f}% of pixels'
                for j in order]
    kpts = result.pred_instances.keypoints
    return [f'{kpts.shape[0]} instance(s), {kpts.shape[1]} keypoints each']


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)  # before the slow part
    model = init_model(args.config, args.checkpoint, device=args.device,
                       cfg_options=args.cfg_options)
    result = inference(model, args.image, bboxes=args.bboxes)
    show_result(model, args.image, result, args.out, topk=args.topk, score_thr=args.score_thr,
                kpt_thr=args.kpt_thr)
    for line in summary(model, result, args):
        print(f'[image_demo] {line}')
    print(f'[image_demo] {model.task} result drawn to {args.out}')


if __name__ == '__main__':
    main()
