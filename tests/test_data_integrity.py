"""Labels that cannot shift and images that decode (hvt.engine.data_check, hvt.engine.image_check).

The data is generated here, tiny and in the real formats: an image folder per class for
mmpretrain's ``CustomDataset`` (with ``meta/*.txt`` list files for the list-file case) and a COCO
JSON. Tool runs use the demo's narrowed ViTAEv2 on 64x64 inputs for one epoch.
"""
import json
import shutil

import numpy as np
import pytest
from mmengine.config import Config

from toolkit import ROOT, run_tool

CLASSES = ('circle', 'square', 'triangle', 'star')  # sorted: circle, square, star, triangle


def _folder_data(root, train=3, val=2):
    from make_tiny_datasets import make_imagenet
    make_imagenet(str(root), np.random.default_rng(0), train, val, size=32)
    return root


def _folder_config(tmp_path, root, workers=0):
    """The demo model on a folder dataset (no ann_file, no classes): labels = sorted folders."""
    path = tmp_path / 'folder_cfg.py'
    loader = (f"batch_size=4, num_workers={workers}, persistent_workers=False")
    path.write_text(f"""
_base_ = ['{ROOT}/configs/demo/vitaev2-demo_shapes.py']
train_dataloader = dict({loader}, dataset=dict(
    _delete_=True, type='CustomDataset', data_root='{root}', data_prefix='train',
    pipeline={{{{_base_.train_pipeline}}}}))
val_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, dataset=dict(
    _delete_=True, type='CustomDataset', data_root='{root}', data_prefix='val',
    pipeline={{{{_base_.test_pipeline}}}}))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = []
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
work_dir = '{tmp_path / "work"}'
""")
    return str(path)


def _corrupt(path, data=b'\x89PNG\r\n\x1a\n this is not an image'):
    path.write_bytes(data)
    return path


# -- class folders -------------------------------------------------------------------------------
def test_val_missing_class_folder_fails_before_training(tmp_path):
    root = _folder_data(tmp_path / 'data')
    shutil.rmtree(root / 'val' / 'square')
    config = _folder_config(tmp_path, root)
    out = run_tool('train.py', config, check='fail')
    assert ("val_dataloader.dataset: class folders differ from train_dataloader.dataset's "
            f"({str(root / 'train')!r}): missing in {str(root / 'val')!r}: 'square'") in out
    assert 'Epoch(train)' not in out and not (tmp_path / 'work' / 'last_checkpoint').exists()


def test_tools_test_compares_with_train_split_and_extra_folder_fails(tmp_path):
    from hvt.engine.cli import check_data_paths
    root = _folder_data(tmp_path / 'data')
    config = _folder_config(tmp_path, root)
    (root / 'val' / '.ipynb_checkpoints').mkdir()
    (root / 'val' / 'cat_old').mkdir()
    cfg = Config.fromfile(config)
    with pytest.raises(ValueError) as err:
        check_data_paths(cfg, loaders=('test_dataloader', ))  # what tools/test.py checks
    assert str(err.value).startswith(
        "test_dataloader.dataset: class folders differ from train_dataloader.dataset's "
        f"({str(root / 'train')!r}): extra: '.ipynb_checkpoints', 'cat_old'.")
    # config classes that are not the folders' (sorted) order are refused too
    shutil.rmtree(root / 'val' / '.ipynb_checkpoints')
    shutil.rmtree(root / 'val' / 'cat_old')
    cfg = Config.fromfile(config)
    cfg.train_dataloader.dataset.metainfo = dict(classes=CLASSES)
    with pytest.raises(ValueError, match=r'train_dataloader.dataset.metainfo.classes .* not in '
                                         r"sorted order.*'circle', 'square', 'star', 'triangle'"):
        check_data_paths(cfg)


def test_val_gets_train_classes_and_labels_match_folders(tmp_path):
    from mmengine.registry import DATASETS, init_default_scope
    from hvt.engine.cli import check_data_paths
    root = _folder_data(tmp_path / 'data')
    shutil.rmtree(root / 'val' / 'star')
    (root / 'val' / 'star').mkdir()  # a class without val images: an empty folder is fine
    cfg = Config.fromfile(_folder_config(tmp_path, root))
    check_data_paths(cfg)
    train_classes = tuple(sorted(CLASSES))
    assert tuple(cfg.val_dataloader.dataset.metainfo.classes) == train_classes
    assert tuple(cfg.test_dataloader.dataset.metainfo.classes) == train_classes
    init_default_scope('mmpretrain')
    val = DATASETS.build(dict(cfg.val_dataloader.dataset, pipeline=[]))
    train = DATASETS.build(dict(cfg.train_dataloader.dataset, pipeline=[]))
    assert val.metainfo['classes'] == train.metainfo['classes'] == train_classes
    for ds in (train, val):
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            folder = info['img_path'].split('/')[-2]
            assert train_classes[info['gt_label']] == folder, info
    assert {val.get_data_info(i)['gt_label'] for i in range(len(val))} == {0, 1, 3}


# -- labels of annotation files ------------------------------------------------------------------
def test_list_file_label_out_of_range_names_line(tmp_path):
    from hvt.engine.cli import check_data_paths
    root = _folder_data(tmp_path / 'data')
    cfg = Config.fromfile(f'{ROOT}/configs/demo/vitaev2-demo_shapes.py')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(root)
    check_data_paths(cfg)  # the generated labels are 0..3: no error
    ann = root / 'meta' / 'val.txt'
    lines = ann.read_text().splitlines()
    lines[2] = lines[2].rsplit(' ', 1)[0] + ' 4'  # 4 classes: 0..3
    lines[5] = lines[5].rsplit(' ', 1)[0] + ' -1'
    ann.write_text('\n'.join(lines) + '\n')
    with pytest.raises(ValueError) as err:
        check_data_paths(cfg)
    msg = str(err.value)
    assert msg.startswith(f"val_dataloader.dataset: 2 of {len(lines)} lines of {str(ann)!r} have "
                          'no label in 0..3 (4 classes)')
    assert f"line 3: label '4' ({lines[2].rsplit(' ', 1)[0]!r})" in msg
    assert f"line 6: label '-1' ({lines[5].rsplit(' ', 1)[0]!r})" in msg


def test_coco_category_outside_categories_and_classes_mismatch(tmp_path):
    from make_tiny_datasets import make_coco
    from hvt.engine.cli import check_data_paths
    root = tmp_path / 'coco'
    make_coco(str(root), np.random.default_rng(0), 2, 2, size=(32, 24))
    cfg = Config.fromfile(f'{ROOT}/configs/cetnet/mask-rcnn_cetnet-t_fpn_1x_coco.py')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = f'{root}/'
        cfg[loader].dataset.metainfo = dict(classes=('circle', 'square', 'triangle'))
    check_data_paths(cfg)  # file categories = config classes: no error
    cfg.val_dataloader.dataset.metainfo = dict(classes=('square', 'circle', 'triangle'))
    with pytest.raises(ValueError, match=r"val_dataloader.dataset.metainfo.classes .* not in the "
                                         r"order of the categories of '.*instances_val2017.json'"):
        check_data_paths(cfg)
    cfg.val_dataloader.dataset.metainfo = dict(classes=('circle', 'square', 'hexagon'))
    with pytest.raises(ValueError, match=r"metainfo.classes: 'hexagon' not among the categories"):
        check_data_paths(cfg)
    cfg.val_dataloader.dataset.metainfo = dict(classes=('circle', 'square', 'triangle'))
    ann = root / 'annotations' / 'instances_train2017.json'
    content = json.loads(ann.read_text())
    bad = content['annotations'][1]
    bad['category_id'] = 9
    ann.write_text(json.dumps(content))
    with pytest.raises(ValueError) as err:
        check_data_paths(cfg)
    assert str(err.value).startswith(
        f"train_dataloader.dataset: 1 of {len(content['annotations'])} annotations in "
        f"{str(ann)!r} have a category_id that is not among its categories")
    assert f"annotation id {bad['id']} (image id {bad['image_id']}): category_id 9" in \
        str(err.value)


# -- decodable images ----------------------------------------------------------------------------
def test_check_images_lists_every_corrupt_file(tmp_path):
    root = _folder_data(tmp_path / 'data')
    png = _corrupt(root / 'train' / 'star' / 'corrupt_0001.png')
    jpeg = sorted((root / 'val' / 'circle').iterdir())[0]
    jpeg.write_bytes(jpeg.read_bytes()[:40])  # cut short
    out = run_tool('train.py', _folder_config(tmp_path, root), '--check-images', check='fail')
    n = len(list(root.glob('*/*/*')))
    assert f'error: 2 of {n} images cannot be decoded' in out
    assert f'  {str(png)!r}: ' in out and f'  {str(jpeg)!r}: ' in out
    assert 'Epoch(train)' not in out


def test_corrupt_image_in_training_is_named_last(tmp_path):
    root = _folder_data(tmp_path / 'data')
    png = _corrupt(root / 'train' / 'square' / 'corrupt_0001.png')
    # one DataLoader worker: the failure crosses a process boundary, as in real runs
    out = run_tool('train.py', _folder_config(tmp_path, root, workers=1), check='fail')
    last = out.rstrip().splitlines()[-1]
    assert last.startswith(f'error: cannot decode image {str(png)!r} ('), out[-3000:]
    assert last.endswith('--check-images to list every corrupt file')


def test_clean_data_passes_check_images_and_trains(tmp_path):
    root = _folder_data(tmp_path / 'data')
    out = run_tool('train.py', _folder_config(tmp_path, root), '--check-images')
    n = len(list(root.glob('*/*/*')))
    assert f'--check-images: all {n} images decode' in out
    assert 'Epoch(train)' in out and (tmp_path / 'work' / 'epoch_1.pth').exists()


def test_decode_all_uses_a_pool_and_reports_in_order(tmp_path):
    from hvt.engine.image_check import decode_all
    root = _folder_data(tmp_path / 'data', train=2, val=1)
    files = sorted(root.glob('*/*/*'))
    bad = [_corrupt(tmp_path / 'a.png'), _corrupt(tmp_path / 'b.jpg', b'')]
    jobs = [(str(p), 'cv2', 'color') for p in files + bad]
    jobs += [(str(bad[0]), 'pillow', 'color'), (str(tmp_path / 'gone.png'), 'cv2', 'color')]
    found = decode_all(jobs, workers=2, progress=False)
    assert [p for p, _ in found] == [str(bad[0]), str(bad[1]), str(bad[0]),
                                     str(tmp_path / 'gone.png')]
    assert 'cv2 could not decode it' == found[0][1]
    assert found[2][1].startswith('UnidentifiedImageError')
    assert found[3][1].startswith('FileNotFoundError')
