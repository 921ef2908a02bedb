"""zeroskel: zero-shot skeleton-based action recognition (Neuron, CVPR 2025, and peers)."""
__version__ = "0.1.0"
