"""Exceptions the engine raises for bad input (the CLI turns them into one-line messages), and the warning
it gives about a model folder."""


class PhasefoldError(Exception):
    """Base class for every error phasefold reports to a user without a traceback."""


class InputError(PhasefoldError):
    """Unreadable, empty or malformed input (audio, magnitude file, frames)."""


class ModelError(PhasefoldError):
    """A model file or model card that cannot be used."""


class DeviceError(PhasefoldError):
    """An audio device that is missing or went away."""


class BackendError(PhasefoldError):
    """A backend that was asked for but cannot run here (a missing package), or cannot run a model."""


class ModelPathWarning(UserWarning):
    """A model file on the model path that is not offered: a built-in's name, a name taken by an earlier
    folder, a name that is not UTF-8, or a card that cannot be read (running it by name says why)."""
