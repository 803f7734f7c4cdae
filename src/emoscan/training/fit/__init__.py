"""Fitting networks: the shared recipe, the CPU (TensorFlow) and accelerated (JAX) trainers, model soups."""
