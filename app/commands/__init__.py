"""One module per `phasefold` sub-command; each exposes ``register(subparsers)`` and its ``run(args)``."""
