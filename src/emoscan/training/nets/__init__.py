"""Networks: architectures, training augmentation, mixup and class-mapped warm starts."""
