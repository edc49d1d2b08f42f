"""Bad input gets a clear error that names the offending key, file or value."""
import json
import shutil

import pytest
import torch

from hvt.engine.checkpoint_io import (check_checkpoint_file, load_checkpoint_file,
                                      save_checkpoint_file)
from toolkit import cls_smoke_options, det_smoke_options, pose_smoke_options, run_tool

CONFIG = 'configs/demo/vitaev2-demo_shapes.py'


def test_truncated_checkpoint_is_named_corrupt(tmp_path):
    good = tmp_path / 'good.pth'
    save_checkpoint_file({'state_dict': {'w': torch.ones(1000)}}, str(good))
    check_checkpoint_file(str(good))
    assert torch.equal(load_checkpoint_file(str(good))['state_dict']['w'], torch.ones(1000))
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(good.read_bytes()[:-200])  # a save that was cut short
    with pytest.raises(ValueError, match=r"bad\.pth.*corrupt or incomplete"):
        check_checkpoint_file(str(bad))
    junk = tmp_path / 'junk.pth'
    junk.write_text('<html>404 not found</html>')
    with pytest.raises(ValueError, match=r"junk\.pth.*corrupt or incomplete"):
        load_checkpoint_file(str(junk))


def test_legacy_pickle_needs_trust(tmp_path):
    import argparse
    path = tmp_path / 'official.pth'
    torch.save({'model': {'w': torch.zeros(2)}, 'args': argparse.Namespace(lr=1)}, str(path))
    with pytest.raises(RuntimeError, match=r'official\.pth.*--trust-pickle'):
        load_checkpoint_file(str(path))
    with pytest.warns(UserWarning, match='full unpickling'):
        ckpt = load_checkpoint_file(str(path), trust_pickle=True)
    assert ckpt['args'].lr == 1


def test_resume_from_truncated_checkpoint_fails_clearly(tmp_path):
    bad = tmp_path / 'epoch_3.pth'
    bad.write_bytes(b'PK\x03\x04 truncated')
    out = run_tool('train.py', CONFIG, '--resume', bad, check='fail')
    assert 'epoch_3.pth' in out and 'corrupt or incomplete' in out


def test_missing_dataset_root_names_key_and_path(tmp_path):
    out = run_tool('train.py', CONFIG, '--cfg-options',
                   f'train_dataloader.dataset.data_root={tmp_path}/no_such_data', check='fail')
    assert 'train_dataloader.dataset.data_root' in out and 'no_such_data' in out
    assert 'does not exist' in out


def test_missing_annotation_file_names_path(tiny_data, tmp_path):
    opts = cls_smoke_options(tiny_data, tmp_path / 'w', img_size=32, config=CONFIG)
    out = run_tool('train.py', CONFIG, '--cfg-options', *opts,
                   'train_dataloader.dataset.ann_file=meta/missing.txt', check='fail')
    assert 'meta/missing.txt' in out and 'annotation file' in out


def test_nan_loss_stops_with_iteration_and_terms(tiny_data, tmp_path):
    opts = cls_smoke_options(tiny_data, tmp_path / 'w', img_size=32, config=CONFIG)
    # an absurd learning rate blows the weights up within a few iterations
    out = run_tool('train.py', CONFIG, '--cfg-options', *opts, 'optim_wrapper.optimizer.lr=1e30',
                   check='fail')
    assert 'FloatingPointError' in out
    assert 'non-finite loss at iteration' in out and 'loss=' in out


# -- annotations that refer to missing images (hvt.engine.data_check, before the Runner) -------
def _copy(tiny_data, tmp_path, sub):
    shutil.copytree(tiny_data / sub, tmp_path / sub)
    return tmp_path / sub


def test_list_file_image_missing_names_path_and_line(tiny_data, tmp_path):
    root = _copy(tiny_data, tmp_path, 'imagenet')
    lines = (root / 'meta' / 'train.txt').read_text().splitlines()
    gone = lines[2].rsplit(' ', 1)[0]
    (root / 'train' / gone).unlink()
    opts = cls_smoke_options(tmp_path, tmp_path / 'w', img_size=32, config=CONFIG)
    out = run_tool('train.py', CONFIG, '--cfg-options', *opts, check='fail')
    assert 'FileNotFoundError' in out
    assert 'train_dataloader.dataset: 1 of' in out and "meta/train.txt' do not exist" in out
    assert f"{root / 'train' / gone}' (line 3)" in out


def test_coco_image_missing_names_image_and_annotation_ids(tiny_data, tmp_path):
    root = _copy(tiny_data, tmp_path, 'coco')
    content = json.loads((root / 'annotations' / 'instances_val2017.json').read_text())
    img = content['images'][1]
    ann_ids = [a['id'] for a in content['annotations'] if a['image_id'] == img['id']]
    assert ann_ids
    (root / 'val2017' / img['file_name']).unlink()
    config = 'configs/cetnet/mask-rcnn_cetnet-t_fpn_1x_coco.py'
    opts = det_smoke_options(tmp_path, tmp_path / 'w', config)
    # tools/test.py checks the checkpoint first: give it a real (empty) one
    save_checkpoint_file({'state_dict': {}}, str(tmp_path / 'none.pth'))
    out = run_tool('test.py', config, tmp_path / 'none.pth', '--cfg-options', *opts,
                   check='fail')
    assert 'test_dataloader.dataset: 1 of' in out and 'instances_val2017.json' in out
    assert (f"{root / 'val2017' / img['file_name']}' (image id {img['id']}, used by annotation "
            f'ids {ann_ids})') in out


def test_ap10k_image_missing_fails_training_early(tiny_data, tmp_path):
    root = _copy(tiny_data, tmp_path, 'ap10k')
    content = json.loads((root / 'annotations' / 'ap10k-train-split1.json').read_text())
    img = content['images'][0]
    (root / 'data' / img['file_name']).unlink()
    config = 'configs/vitaev2/td-hm_vitaev2-48m_8xb64-210e_ap10k-256x256.py'
    opts = pose_smoke_options(tmp_path, tmp_path / 'w', config)
    out = run_tool('train.py', config, '--cfg-options', *opts, check='fail')
    assert 'train_dataloader.dataset: 1 of' in out and 'ap10k-train-split1.json' in out
    assert f"(image id {img['id']}, used by annotation ids [" in out
    assert 'check_image_files=False' in out  # the message says how to skip the check


def test_segmentation_image_without_label_map_is_named(tiny_data, tmp_path):
    from mmengine.config import Config
    from hvt.engine.cli import check_data_paths
    root = _copy(tiny_data, tmp_path, 'ade')
    config = 'configs/cetnet/upernet_cetnet-t_8xb2-160k_ade20k-512x512.py'
    cfg = Config.fromfile(config)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(root)
    check_data_paths(cfg)  # complete data: no error
    masks = sorted((root / 'annotations' / 'validation').iterdir())
    masks[0].unlink()
    with pytest.raises(FileNotFoundError) as err:
        check_data_paths(cfg)
    msg = str(err.value)
    assert msg.startswith('val_dataloader.dataset: 1 of') and f"label map '{masks[0]}'" in msg
    assert f"{root / 'images' / 'validation' / masks[0].stem}.jpg'" in msg


def test_file_index_answers_like_isfile(tmp_path):
    import os
    from hvt.engine.data_check import FileIndex
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'a.jpg').write_bytes(b'')
    os.symlink(tmp_path / 'sub' / 'a.jpg', tmp_path / 'sub' / 'link.jpg')
    os.symlink(tmp_path / 'gone.jpg', tmp_path / 'sub' / 'broken.jpg')
    (tmp_path / 'sub' / 'dir.jpg').mkdir()
    index = FileIndex()
    for name in ('sub/a.jpg', 'sub/link.jpg', 'sub/broken.jpg', 'sub/dir.jpg', 'sub/none.jpg',
                 'nodir/a.jpg', 'sub/a.jpg/x', 'sub'):
        path = str(tmp_path / name)
        assert index.isfile(path) == os.path.isfile(path), name
    assert index.isfile(str(tmp_path / 'sub' / 'a.jpg'))


def test_data_check_runs_on_rank0_and_broadcasts_the_verdict(monkeypatch):
    import mmengine.dist
    from hvt.engine import data_check
    sent = []

    def broadcast(objs, src=0):
        assert src == 0
        if rank == 0:
            sent.append(list(objs))
        else:
            objs[0] = ('FileNotFoundError', 'train_dataloader.dataset: 1 of 9 images ...')

    def check(key, ds, index, done):
        checked.append(key)
        raise FileNotFoundError(f'{key}: missing')

    monkeypatch.setattr(mmengine.dist, 'is_distributed', lambda: True)
    monkeypatch.setattr(mmengine.dist, 'broadcast_object_list', broadcast)
    monkeypatch.setattr(data_check, 'check_dataset_images', check)
    for rank in (0, 1):
        monkeypatch.setattr(mmengine.dist, 'get_rank', lambda rank=rank: rank)
        checked = []
        with pytest.raises(FileNotFoundError) as err:
            data_check.check_datasets([('train_dataloader.dataset', {})])
        if rank == 0:  # checks, sends its error, raises it
            assert checked == ['train_dataloader.dataset']
            assert sent == [[('FileNotFoundError', 'train_dataloader.dataset: missing')]]
        else:  # checks nothing, raises rank 0's error
            assert checked == [] and str(err.value).startswith('train_dataloader.dataset: 1 of 9')


def test_benchmark_data_check_tool(tmp_path):
    import importlib.util
    from toolkit import ROOT
    spec = importlib.util.spec_from_file_location(
        'benchmark_data_check', f'{ROOT}/tools/analysis/benchmark_data_check.py')
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for missing in ([], ['--missing']):
        out = tmp_path / f'bench{len(missing)}.json'
        res = bench.main(['--imagenet', '60', '--classes', '4', '--coco-images', '10',
                          '--repeat', '2', '--out', str(out), *missing])
        assert json.loads(out.read_text()) == res
        sets = res['sets']
        assert [(s['name'], s['entries']) for s in sets] == [('imagenet', 60),
                                                            ('coco (73 annotations)', 10)]
        assert all(s['check_s'] > 0 and s['us_per_entry'] > 0 for s in sets)
        if missing:  # the error names the deleted image (and, for COCO, its annotation ids)
            assert "n00000000_0.JPEG' (line 1)" in sets[0]['error']
            assert "000000000001.jpg' (image id 1, used by annotation ids [10, 20" in \
                sets[1]['error']
        else:
            assert [s['error'] for s in sets] == [None, None]
