"""Starting the desktop application: display detection, settings from the command line, scripted runs."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from phasefold.engine.errors import DeviceError, InputError
from phasefold.gui.model_files import check_model_file

HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc")


def has_display() -> bool:
    """Whether a window can be shown here (an offscreen Qt platform counts as no display)."""
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0]
    if platform in HEADLESS_PLATFORMS:
        return False
    if platform or sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@dataclass
class LaunchOptions:
    """What `phasefold gui` / `phasefold demo` ask of the window."""

    input: Path | None = None  # an audio file or a .npz magnitude file
    method: str | None = None
    lookahead: int | None = None  # None: a stream-trained model's own L, else 3 (check_options fills it)
    block: int | None = None  # None: a stream-trained model's own B, else 1
    output: str | None = None
    snr: float | None = None
    play: bool = False
    quit_after: float | None = None  # seconds of signal streamed (wall time without play), then close
    screenshot: Path | None = None  # saved just before closing
    backend: str = "auto"  # engine.backends


def check_options(opts: LaunchOptions) -> None:
    """Refuse bad settings with one line before any window opens; fill in L and B where left out."""
    from phasefold.engine.stft import StftConfig
    from phasefold.engine.streaming import method_names

    cfg = StftConfig()  # the GUI streams at the default STFT (hop 256)
    names = method_names(cfg)
    if opts.method is not None and opts.method.endswith(".onnx"):
        check_model_file(opts.method)
    elif opts.method is not None and opts.method not in names:
        raise InputError(
            f"unknown streaming method {opts.method!r}; choose one of {', '.join(names)} or a model file "
            "(NAME.onnx)"
        )
    fill_settings(opts)
    if not 0 <= opts.lookahead <= 8:
        raise InputError(f"look-ahead must be 0 to 8 frames, not {opts.lookahead}")
    if not 1 <= opts.block <= 8:
        raise InputError(f"block size must be 1 to 8 frames, not {opts.block}")
    if opts.input is not None:
        from phasefold.engine.inputs import check_modifiable
        from phasefold.gui.sources import check_file

        check_modifiable(opts.input, opts.snr)
        check_file(opts.input, cfg)
    if opts.quit_after is not None and opts.quit_after <= 0:
        raise InputError("--quit-after must be positive")
    if opts.screenshot is not None and not opts.screenshot.parent.is_dir():
        raise InputError(f"{opts.screenshot}: the folder {opts.screenshot.parent} does not exist")


def fill_settings(opts: LaunchOptions) -> None:
    """L and B left out: a stream-trained model's own (its card's ``streaming``), else the registry's
    defaults; a -L or -B other than the model's is refused (engine.registry.MethodSpec.stream_settings)."""
    from phasefold.engine import registry

    # no method: the one the window selects at start
    name = opts.method or registry.default_stream_method(registry.streaming_names())
    opts.lookahead, opts.block = registry.lookup(name).stream_settings(opts.lookahead, opts.block)


def launch(opts: LaunchOptions) -> int:
    """Open the main window with these settings and run the event loop; returns the exit code."""
    check_options(opts)
    if not has_display() and os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] not in HEADLESS_PLATFORMS:
        raise DeviceError(
            "no display found (DISPLAY / WAYLAND_DISPLAY unset): run `phasefold demo` or `phasefold stream` "
            "for audio without a window, or set QT_QPA_PLATFORM=offscreen to render off screen"
        )
    from phasefold.exit_signals import calling_on_signals, interruption
    from phasefold.gui.main_window import MainWindow, make_app
    from PyQt6.QtCore import QTimer

    app = make_app(sys.argv[:1])
    window = MainWindow(output=opts.output)
    apply_options(window, opts)
    window.show()
    errors: list[str] = []

    def finish() -> None:
        if opts.screenshot is not None:
            window.save_screenshot(opts.screenshot)
        print(
            f"phasefold gui: {window.streamed_seconds:.2f} s streamed; "
            f"median GUI frame interval {window.frame_interval_ms():.1f} ms"
        )
        if window.last_error:
            errors.append(window.last_error)
        window.close()

    if opts.play:  # --quit-after counts the stream's own seconds (a first use compiles for seconds first)
        if opts.quit_after is not None:
            window.after_streaming(opts.quit_after, finish)

        def play() -> None:
            if not window.start_stream() and opts.quit_after is not None:
                finish()

        QTimer.singleShot(0, play)
    elif opts.quit_after is not None:
        QTimer.singleShot(int(opts.quit_after * 1000), finish)
    ended_by: list[int] = []  # SIGTERM, SIGHUP, Ctrl-C close the window (raised in a Qt callback they abort)

    def end(signum: int) -> None:
        ended_by.append(signum)
        window.close()

    ticks = QTimer()  # Python runs its signal handlers only when it runs: every 200 ms at least
    ticks.timeout.connect(lambda: None)
    ticks.start(200)
    with calling_on_signals(end):
        code = int(app.exec())
    ticks.stop()
    if ended_by:  # the CLI exits with 128 + the signal (phasefold.exit_signals)
        raise interruption(ended_by[0])
    if errors:  # a scripted run that showed an error in the window does not end with exit code 0
        raise InputError(f"the window showed an error: {errors[-1]}")
    return code


def apply_options(window, opts: LaunchOptions) -> None:
    """Set the window's controls from the options."""
    window.backend = opts.backend
    c = window.controls
    if opts.method is not None and opts.method.endswith(".onnx"):
        window.add_model_file(opts.method)
    elif opts.method is not None:
        c.method.setCurrentText(opts.method)
    c.lookahead.setValue(opts.lookahead)
    c.block.setValue(opts.block)
    if opts.snr is not None:
        c.modify.setChecked(True)
        c.snr.setValue(opts.snr)
    if opts.input is not None:
        window.open_file(opts.input)
