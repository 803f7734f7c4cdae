"""Inference shared by the service, the CLI and live mode: detect faces, classify them (ONNX Runtime)."""
