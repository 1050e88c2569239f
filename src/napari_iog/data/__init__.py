"""Data for fine-tuning and evaluation: file IO, object datasets, the click simulator, augmentation."""
