"""Label text drawn by hvt.apis (demo/image_demo.py, browse_dataset.py) scales with the image,
and the drawing keeps the input's size."""
import numpy as np
import pytest
import torch

from hvt.apis import draw_sample
from hvt.apis.inference import label_font_size

SMALL, LARGE = (64, 80), (480, 640)  # (H, W)


def _image(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, size=(*shape, 3), dtype=np.uint8)


def _cls_sample():
    from mmpretrain.structures import DataSample
    scores = torch.tensor([0.1, 0.7, 0.2])
    return DataSample().set_pred_score(scores).set_pred_label(torch.tensor([1, 2]))


def _det_sample(shape):
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    h, w = shape
    inst = InstanceData()
    inst.bboxes = torch.tensor([[0.1 * w, 0.1 * h, 0.6 * w, 0.7 * h]])
    inst.labels = torch.tensor([0])
    inst.scores = torch.tensor([0.9])
    sample = DetDataSample()
    sample.pred_instances = inst
    return sample


@pytest.fixture
def drawn_texts(monkeypatch):
    """Every text matplotlib draws, as (font size in points, rendered height of one line in
    pixels), measured when it is drawn (mmdet redraws its result as a plain image afterwards)."""
    from matplotlib.axes import Axes
    found = []
    text = Axes.text

    def spy(self, *args, **kwargs):
        artist = text(self, *args, **kwargs)
        if artist.get_text().strip():
            renderer = self.figure.canvas.get_renderer()
            lines = len(artist.get_text().split('\n'))
            found.append((artist.get_fontsize(), artist.get_window_extent(renderer).height / lines))
        return artist

    monkeypatch.setattr(Axes, 'text', spy)
    return found


@pytest.mark.parametrize('task', ['classification', 'detection'])
def test_label_font_follows_the_image_and_the_size_is_kept(task, tmp_path, drawn_texts):
    meta = dict(classes=('circle', 'square', 'triangle'), palette=[(255, 0, 0), (0, 255, 0),
                                                                   (0, 0, 255)])
    found = {}
    for shape in (SMALL, LARGE):
        image = _image(shape)
        sample = _cls_sample() if task == 'classification' else _det_sample(shape)
        out = tmp_path / f'{task}_{shape[0]}.png'
        drawn = draw_sample(task, image, sample, meta, str(out), score_thr=0.3)
        assert drawn.shape == image.shape  # the drawing is not resized
        from PIL import Image
        assert Image.open(out).size == (shape[1], shape[0])  # nor the saved file
        assert not np.array_equal(drawn, image)  # something was drawn
        assert drawn_texts, 'no label drawn'
        found[shape] = list(drawn_texts)
        drawn_texts.clear()
    (small_pt, small_px), = found[SMALL][:1]
    (large_pt, large_px), = found[LARGE][:1]
    assert small_pt < large_pt
    assert large_px > 2 * small_px  # the rendered text really grew with the image
    # a label line stays a modest part of the small image, and is legible on both
    assert 6 <= small_px <= SMALL[0] / 4
    assert large_px >= LARGE[0] / 20  # a line as tall as 1/20 of the shorter side, at least


def test_label_font_size_is_proportional_and_clamped():
    dpi = 100
    px = [label_font_size((s, 2 * s), dpi) * dpi / 72 for s in (32, 200, 400, 3000)]
    assert px[0] == pytest.approx(7)  # clamped below: 32 / 20 would be unreadable
    assert px[1] == pytest.approx(10) and px[2] == pytest.approx(20)  # 1/20 of the shorter side
    assert px[3] == pytest.approx(40)  # clamped above
    # the shorter side decides, whichever axis it is on
    assert label_font_size((300, 900)) == label_font_size((900, 300))
