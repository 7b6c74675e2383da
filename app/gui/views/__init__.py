"""The live plots of the main window: spectrograms, learned divergences, STOI over time."""
