"""Model half of the pipeline: architectures, augmentation, training, evaluation, export, registry."""
