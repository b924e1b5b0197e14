"""Data: sources -> uint8 tensors (:mod:`.datasets`) -> device batches (:mod:`.loader`)."""
from reslab.data.datasets import (AUTO_ORDER, DATASETS, ImageDataset, available_datasets,
                                  from_arrays, load_dataset)
from reslab.data.loader import DeviceLoader, crop_flip, eval_batches, normalisation_stats
from reslab.data.sources import DatasetUnavailable
from reslab.data.synthetic import SHAPES10_CLASSES, make_shapes10

__all__ = ["AUTO_ORDER", "DATASETS", "ImageDataset", "available_datasets",
           "from_arrays", "load_dataset", "DeviceLoader", "crop_flip", "eval_batches",
           "normalisation_stats", "DatasetUnavailable", "SHAPES10_CLASSES", "make_shapes10"]
