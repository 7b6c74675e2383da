"""The phasefold desktop application (PyQt6 + pyqtgraph): live spectrograms, divergences and STOI."""
