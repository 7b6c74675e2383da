"""PyTorch side of phasefold: torch STFT, differentiable STOI, the unfolded ADMM network, training, export."""
