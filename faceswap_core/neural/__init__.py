"""The neural engine's parts, one small module per stage or model family: SCRFD detection,
5-point alignment, ArcFace recognition, inswapper, paste-back, face mapping, detection
reuse, and ONNX Runtime providers/sessions. The engine itself is faceswap_core/engines/neural.py."""
