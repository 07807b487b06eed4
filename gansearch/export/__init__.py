"""The best generators, handed over: safetensors weights, config, metrics, model card and a manifest."""
