"""The neural engine's heavy models on another machine's GPU, through NVIDIA Triton
Inference Server: the served graphs and their repository (triton_repo), the client side
(triton_link) and the model classes the engine uses in their place (remote_models)."""
