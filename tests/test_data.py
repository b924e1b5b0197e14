"""Data: sources, subsets and splits, batched augmentation, the embedded dataset."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from reslab.data import (DatasetUnavailable, DeviceLoader, crop_flip, from_arrays, load_dataset,
                         make_shapes10, normalisation_stats)
from reslab.data import sources
from reslab.data.datasets import available_datasets


def _loader(images, labels, batch_size=64, augment=True, seed=0):
    mean, std = normalisation_stats(images, "none")
    return DeviceLoader(images, labels, batch_size, "cpu", mean, std, augment=augment,
                        seed=seed)


def test_crops_stay_inside_the_padded_image_and_flips_mirror():
    # Channels 0 and 1 hold each pixel's (row + 1, col + 1): the output says where it came from.
    rows, cols = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    batch = torch.stack([rows + 1, cols + 1, torch.ones(32, 32)]).expand(200, 3, 32, 32)
    g = torch.Generator().manual_seed(1)
    dx, dy = torch.randint(0, 9, (200,), generator=g), torch.randint(0, 9, (200,), generator=g)
    flip = torch.rand(200, generator=g) < 0.5
    out = crop_flip(batch, dx, dy, flip, pad=4)
    assert out.shape == (200, 3, 32, 32)
    a = torch.arange(32)
    for i in range(200):
        src_r = a[:, None] + dy[i] - 4
        src_c = (a.flip(0) if flip[i] else a)[None, :] + dx[i] - 4
        inside = (src_r >= 0) & (src_r < 32) & (src_c >= 0) & (src_c < 32)
        assert torch.equal(out[i, 0], torch.where(inside, src_r + 1, 0).float())
        assert torch.equal(out[i, 1], torch.where(inside, src_c + 1, 0).float())
        assert torch.equal(out[i, 2], inside.float())  # outside the image: zero padding


def test_loader_offsets_never_leave_the_padded_image():
    images = torch.randint(0, 255, (1000, 3, 32, 32), dtype=torch.uint8)
    loader = _loader(images, torch.zeros(1000, dtype=torch.long))
    plan = loader.epoch_plan(0)
    assert plan["dx"].min() >= 0 and plan["dx"].max() <= 8
    assert plan["dy"].min() >= 0 and plan["dy"].max() <= 8
    assert len(set(plan["dx"].tolist())) == 9  # every offset of the 9 is used


def test_flip_rate_is_one_half_and_labels_follow_their_images():
    n = 4096
    labels = torch.arange(n) % 10
    images = torch.zeros(n, 3, 32, 32, dtype=torch.uint8)
    images[:, 0] = (torch.arange(32) * 8).to(torch.uint8)              # a left-to-right ramp
    images[:, 1] = (labels * 20).view(n, 1, 1).to(torch.uint8)         # the label, everywhere
    loader = _loader(images, labels, batch_size=512)
    flips, seen = 0, []
    for step in range(loader.steps_per_epoch):
        x, y = loader.batch(step)
        assert torch.equal((x[:, 1, 16, 16] * 255 / 20).round().long(), y)
        flips += int((x[:, 0, 16, 20] < x[:, 0, 16, 12]).sum())        # the ramp reversed
        seen.append(y)
    assert 0.45 < flips / n < 0.55
    assert sorted(torch.cat(seen).tolist()) == sorted(labels.tolist())  # each image once


def test_data_order_depends_only_on_seed_and_step():
    images = torch.randint(0, 255, (300, 3, 32, 32), dtype=torch.uint8)
    labels = torch.arange(300) % 10
    a, b = _loader(images, labels), _loader(images, labels)
    for step in (0, 7, 3):  # b jumps around: a resumed run asks for any step first
        xa, ya = a.batch(step)
        xb, yb = b.batch(step)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(a.batch(0)[0], _loader(images, labels, seed=1).batch(0)[0])


def test_shards_of_a_global_batch_reassemble_it():
    images = torch.randint(0, 255, (256, 3, 32, 32), dtype=torch.uint8)
    labels = torch.arange(256) % 10
    mean, std = normalisation_stats(images)
    whole = DeviceLoader(images, labels, 64, "cpu", mean, std).batch(5)
    parts = [DeviceLoader(images, labels, 64, "cpu", mean, std, shard=(r, 2)).batch(5)
             for r in range(2)]
    assert torch.equal(torch.cat([p[0] for p in parts]), whole[0])
    assert torch.equal(torch.cat([p[1] for p in parts]), whole[1])


def test_normalisation_per_pixel_and_per_channel():
    images = torch.randint(0, 255, (100, 3, 8, 8), dtype=torch.uint8)
    mean, std = normalisation_stats(images, "pixel")
    assert mean.shape == (3, 8, 8) and torch.all(std == 1)
    torch.testing.assert_close(mean, images.float().div(255).mean(0))
    mean, std = normalisation_stats(images, "channel")
    assert mean.shape == (3, 1, 1)
    torch.testing.assert_close(std.view(3), images.float().div(255).permute(1, 0, 2, 3)
                               .reshape(3, -1).std(1, unbiased=False), rtol=1e-4, atol=1e-4)


def test_cifar10_jpeg_subsets_and_validation_split():
    data = load_dataset("cifar10-jpeg", train_subset=1000, test_subset=200, seed=3)
    assert data.train_images.shape == (1000, 3, 32, 32)
    assert data.train_images.dtype == torch.uint8 and data.eval_images.shape[0] == 200
    assert "cifar10-jpeg" in data.note and data.eval_split == "test"
    counts = torch.bincount(data.train_labels, minlength=10)
    assert counts.min() > 60  # a shuffled choice, not the first classes of a class-ordered file
    val = load_dataset("cifar10-jpeg", validation=True, train_subset=2000, seed=3)
    assert val.eval_split == "val" and len(val.eval_labels) == 200
    train_set = {bytes(x.numpy()) for x in val.train_images}
    assert not any(bytes(x.numpy()) in train_set for x in val.eval_images)


def test_validation_never_reads_the_test_split(monkeypatch):
    real = sources.load_cifar10_jpeg

    def guarded():
        raw = real()
        def refuse(indices):
            raise AssertionError("the test set was read")
        raw.test.decode = refuse
        return raw

    monkeypatch.setattr(sources, "load_cifar10_jpeg", guarded)
    data = load_dataset("cifar10-jpeg", validation=True, train_subset=500)
    assert data.eval_split == "val"


def test_fashion_mnist_from_debian_files_is_padded_to_32():
    if not (sources.DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("apt-get install dataset-fashion-mnist (make test installs it)")
    raw = sources.load_fashion_mnist_idx()
    assert len(raw.train) == 60_000 and len(raw.test) == 10_000
    images = raw.train.decode(np.arange(10))
    assert images.shape == (10, 1, 32, 32)
    assert np.all(images[:, :, :2] == 0) and images.max() > 200


def test_offline_error_names_dataset_places_and_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("RESLAB_DATA", str(tmp_path))
    with pytest.raises(DatasetUnavailable) as info:
        load_dataset("cifar10", download=False)
    message = str(info.value)
    assert "cifar10 is not available" in message and str(tmp_path) in message
    assert "cifar10-jpeg" in message and "\n" not in message
    monkeypatch.setenv("RESLAB_CIFAR10_JPEG", str(tmp_path / "nowhere"))
    monkeypatch.setattr(sources, "shared_dirs", lambda: [tmp_path / "shared"])
    with pytest.raises(DatasetUnavailable, match=r"cifar10-jpeg not found: looked for .*nowhere"):
        load_dataset("cifar10-jpeg")


def test_offline_switch_stops_downloads(monkeypatch, tmp_path):
    monkeypatch.setenv("RESLAB_DATA", str(tmp_path))
    monkeypatch.setenv("RESLAB_OFFLINE", "1")
    with pytest.raises(DatasetUnavailable, match="not downloaded"):
        load_dataset("svhn")


def test_bad_dataset_name_and_sizes():
    with pytest.raises(ValueError, match="dataset must be one of"):
        load_dataset("imagenet")
    with pytest.raises(ValueError, match="train_subset=99,999,999 but only"):
        load_dataset("cifar10-jpeg", train_subset=99_999_999)


def test_from_arrays_accepts_channels_last_and_checks_dtype():
    x = np.random.randint(0, 255, (20, 32, 32, 3), dtype=np.uint8)
    y = np.arange(20) % 4
    data = from_arrays(x, y, x[:5], y[:5])
    assert data.train_images.shape == (20, 3, 32, 32) and data.num_classes == 4
    with pytest.raises(ValueError, match="must be uint8"):
        from_arrays(x.astype(np.float32), y, x, y)


def test_shapes10_is_deterministic_balanced_and_not_linearly_solvable():
    x, y = make_shapes10(3000, seed=5)
    x2, y2 = make_shapes10(3000, seed=5)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert x.shape == (3000, 3, 32, 32) and torch.bincount(y).tolist() == [300] * 10
    # A linear classifier on pixels, trained to convergence on 2,500 images, stays near chance.
    feats = x.float().flatten(1) / 255
    feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-3)
    linear = torch.nn.Linear(feats.shape[1], 10)
    opt = torch.optim.Adam(linear.parameters(), 1e-3, weight_decay=1e-3)
    for _ in range(100):
        loss = torch.nn.functional.cross_entropy(linear(feats[:2500]), y[:2500])
        opt.zero_grad()
        loss.backward()
        opt.step()
    accuracy = (linear(feats[2500:]).argmax(1) == y[2500:]).float().mean().item()
    assert accuracy < 0.25


def test_available_datasets_reports_every_name():
    found = available_datasets()
    assert set(found) >= {"cifar10", "cifar10-jpeg", "shapes10", "fashion-mnist"}
    assert found["shapes10"].startswith("embedded")


def test_image_folder_tree_is_loaded_resized_to_32(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(0)
    for split, count in (("train", 3), ("test", 2)):
        for cls in ("cat", "dog"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(tmp_path / split / cls / f"{i}.png")
    data = load_dataset(f"imagefolder:{tmp_path}")
    assert data.train_images.shape == (6, 3, 32, 32) and data.eval_images.shape == (4, 3, 32, 32)
    assert data.classes == ["cat", "dog"]
    assert sorted(data.train_labels.tolist()) == [0, 0, 0, 1, 1, 1]
    with pytest.raises(DatasetUnavailable, match="needs train/ and test/"):
        load_dataset(f"imagefolder:{tmp_path / 'train'}")


def test_auto_says_in_one_line_what_it_uses_and_what_is_missing(monkeypatch, capsys):
    from reslab.data import datasets, sources

    fallback = sources.from_arrays(np.zeros((2, 4, 4, 3), np.uint8), np.zeros(2, np.int64),
                                   np.zeros((2, 4, 4, 3), np.uint8), np.zeros(2, np.int64),
                                   "cifar10-jpeg", source="/data/cifar10-jpeg")

    def load_raw(name, download=True):
        if name == "cifar10":
            raise sources.DatasetUnavailable("cifar10 is not available: looked in /data")
        return fallback
    monkeypatch.setattr(datasets, "load_raw", load_raw)
    assert datasets.resolve_auto(download=False) is fallback
    assert capsys.readouterr().out == (
        "reslab: using dataset 'cifar10-jpeg' (/data/cifar10-jpeg), the fallback: cifar10 is "
        "not on this machine (`python -m reslab data cifar10` downloads it)\n")
