"""The training wing, driven by the DVC stages in `pipelines/`:

- `nets/`: the networks, their augmentation and how a network starts from another's weights;
- `fit/`: one recipe (`fit/recipe.py`) run by the CPU trainer (`fit/train.py`, TensorFlow) and the
  accelerated one (`fit/accelerated.py`, JAX on a GPU), and model soups (`fit/soup.py`);
- `release/`: export to ONNX (int8), evaluation, the MLflow registry and the shipped bundle's model card;
- `artifacts.py`, `scoring.py`, `tracking.py`, `plots.py`: what the three share.

It reads `emoscan.data` and the serving classifier of `emoscan.inference` (so that what is evaluated
is what is served); nothing outside the pipeline imports it.
"""
