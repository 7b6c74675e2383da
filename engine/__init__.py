"""phasefold engine: numpy + onnxruntime phase retrieval, offline and streaming (no torch, no Qt)."""
