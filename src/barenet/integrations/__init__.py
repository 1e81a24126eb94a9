"""Integrations with other tools: scikit-learn estimators, ONNX export, the static web export."""
