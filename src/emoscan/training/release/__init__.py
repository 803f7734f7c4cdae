"""Release steps: ONNX export and int8 quantization, evaluation, the MLflow registry, the shipped bundle."""
