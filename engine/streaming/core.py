"""``Stream``: the streaming engine's front door (frames in, samples out, fixed latency, explicit state).

    stream = Stream.open("unfolded-untied")  # L and B: a stream-trained model's own, else 3 and 1
    for frames in source:                  # [k, K] measurements r = |X|^d (or complex frames)
        audio = stream.push(frames)        # k H samples once primed (zeros before), B H at a time
    audio = stream.flush()                 # the (L + N/H - 1) H samples still held
    stream.reset()                         # ready for a new stream

Output sample i is padded input sample i - L H: offline sample s appears at output index
s + ``output_offset`` (= P + L H, P = cfg.pad the STFT's padding); engine.streaming.offline.aligned cuts
the samples that match an offline signal. Every push is
checked before any state changes: a frame with the wrong number of bins, NaN/inf or negative
values raises InputError and leaves the stream exactly as it was. Every block's output is checked too:
a method that returns NaN or infinite samples (magnitudes far outside its range) raises InputError naming
the method and the frame; the samples returned before stay as they were.
"""

from __future__ import annotations

import cmath
import inspect
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from phasefold.engine.arguments import number_array, whole
from phasefold.engine.errors import InputError
from phasefold.engine.mel import MelConfig, linear_mel
from phasefold.engine.stft import HOP, SAMPLE_RATE, StftConfig
from phasefold.engine.streaming.base import FrameProcessor


@dataclass
class StreamStats:
    """Counters of one stream: frames in, samples out, compute time (-> real-time factor)."""

    frames_in: int = 0
    samples_out: int = 0
    compute_s: float = 0.0  # wall-clock seconds inside push/flush
    cpu_s: float = 0.0  # CPU seconds of the calling thread inside push/flush (robust on a busy machine)
    hop: int = HOP
    sample_rate: int = SAMPLE_RATE

    @property
    def audio_s(self) -> float:
        """Seconds of audio the frames in stand for (frames_in * H / sample rate)."""
        return self.frames_in * self.hop / self.sample_rate

    @property
    def rtf(self) -> float:
        """Compute time / audio time (0 before any frame)."""
        return self.compute_s / self.audio_s if self.frames_in else 0.0

    @property
    def rtf_cpu(self) -> float:
        """Thread CPU time / audio time: the RTF a machine with a free core would see."""
        return self.cpu_s / self.audio_s if self.frames_in else 0.0

    @property
    def ms_per_frame(self) -> float:
        return 1000.0 * self.compute_s / self.frames_in if self.frames_in else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "frames_in": self.frames_in,
            "samples_out": self.samples_out,
            "compute_s": self.compute_s,
            "audio_s": self.audio_s,
            "rtf": self.rtf,
            "cpu_s": self.cpu_s,
            "rtf_cpu": self.rtf_cpu,
            "ms_per_frame": self.ms_per_frame,
        }


class Stream:
    """The streaming engine: magnitude frames in, H samples per frame out, after a fixed latency.

    Every method runs in the same engine (the same frames and latency): ADMM and (fast) Griffin-Lim on a
    window of frames, the exported models, RTISI-LA and RTPGHI. The look-ahead L (frames the engine waits
    for before it emits a frame) and the block size B (frames processed at once) set the algorithmic
    latency N + (L + B - 1) H samples. A stream is not safe to use from two threads at once: use one
    stream per thread. It detects the misuse: ``push``, ``flush`` or ``reset`` entered from a thread while
    another thread is inside one of them raises InputError ("this stream is in use by another thread")
    and changes nothing.

    Parameters
    ----------
    processor : phasefold.engine.streaming.base.FrameProcessor
        What runs the method; ``Stream.open`` builds it from a method name, which is the usual way in.

    Attributes
    ----------
    lookahead, block : int
        L and B of this stream.
    cfg : phasefold.engine.stft.StftConfig
        The STFT of the frames (n_fft, hop, sample rate, d).
    stats : StreamStats
        Frames in, samples out and compute time (``stats.rtf_cpu``: thread CPU time over audio time).

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal(phasefold.SAMPLE_RATE) * 0.1
    >>> frames = np.abs(phasefold.stft(x))
    >>> stream = phasefold.Stream.open("admm-l2", lookahead=1)
    >>> out = np.concatenate([stream.push(frame) for frame in frames] + [stream.flush()])
    >>> y = out[stream.output_offset : stream.output_offset + len(x)]  # aligned with x
    >>> y.shape, stream.latency_samples
    ((22050,), 1280)
    """

    def __init__(self, processor: FrameProcessor) -> None:
        self.processor = processor
        self.cfg: StftConfig = processor.cfg
        self.mel = processor.mel  # engine.mel.MelConfig of a stream fed mel frames, else None
        self.lookahead = processor.lookahead
        self.block = processor.block
        self._lock = threading.Lock()
        self.reset()

    @classmethod
    def open(
        cls,
        method: str | Path,
        cfg: StftConfig | None = None,
        lookahead: int | None = None,
        block: int | None = None,
        iterations: int | None = None,
        init: str = "advance",
        **options,
    ) -> Stream:
        """Open a stream that runs one method, ready for its first frame (compiled code loaded, warmed up).

        Parameters
        ----------
        method : str or pathlib.Path
            A name of ``phasefold.list_methods(streaming=True)`` or the path of an exported model (.onnx).
        cfg : phasefold.engine.stft.StftConfig or None, default None
            The STFT of the frames; None: the default (22050 Hz, n_fft 1024, hop 256, d = 1), or a model's.
        lookahead : int or None, default None
            L in frames; None: a stream-trained model's own (its card's), else 3.
        block : int or None, default None
            B in frames; None: a stream-trained model's own, else 1.
        iterations : int or None, default None
            Iterations per window step (ADMM, Griffin-Lim), passes of a model's layers per step, or RTISI-LA
            iterations per frame; None: the method's own default.
        init : {"advance", "rtpghi"}, default "advance"
            How a new frame's phase starts: the phase advance 2 pi k H / N from the previous frame, or
            RTPGHI.
        **options
            ``backend`` ("auto", "compiled", "onnxruntime", "numpy"), ``seed``, ``threads``,
            ``silent_start``, ``mel`` and ``mel_start`` (engine.streaming.steps.make_processor). With
            ``mel`` ("hifigan", another preset of engine.mel.PRESETS, or a MelConfig) the stream takes mel
            frames in that mel's own layout and log scale (one frame [n_mels], or a block laid out as the
            preset's arrays), runs gla, fgla or admm-<loss> with the mel step inside its window
            (engine.mel_window) at the mel's STFT, and ``output_offset`` includes the mel's own padding.

        Returns
        -------
        Stream
            The stream, primed with nothing: the first ``output_offset`` samples it returns are the
            padding and the look-ahead.

        Raises
        ------
        phasefold.engine.errors.InputError
            A method that is not a name or path, unknown or offline-only; settings that are not whole
            numbers or out of range (L and B at most 64 frames, iterations at most 1000, a ``cfg`` sample
            rate from 4000 to 768000 Hz: docs/limits.md), or that need more memory than there is; an
            option it does not take;
            a setting that contradicts a stream-trained model's card (the message names the model's value).
        phasefold.engine.errors.ModelError
            A model file that is missing or broken.
        phasefold.engine.errors.BackendError
            ``backend="compiled"`` where the compiled backend cannot run the method.

        Examples
        --------
        >>> stream = phasefold.Stream.open("unfolded-stream-l1")  # L and B from the model's card
        >>> stream.lookahead, stream.block
        (1, 1)
        """
        from phasefold.engine.streaming.steps import make_processor

        unknown = sorted(set(options) - set(inspect.signature(make_processor).parameters))
        if unknown:
            raise InputError(f"Stream.open takes no option {', '.join(unknown)}")
        try:
            processor = make_processor(
                method, cfg, lookahead, block, iterations=iterations, init=init, **options
            )
        except MemoryError:
            raise InputError(
                f"{method}: look-ahead {lookahead} and block {block} need more memory than there is"
            ) from None
        return cls(processor)

    @contextmanager
    def _in_use(self) -> Iterator[None]:
        """Held while push, flush or reset runs; a second thread entering meanwhile gets InputError."""
        if not self._lock.acquire(blocking=False):
            raise InputError("this stream is in use by another thread; use one stream per thread")
        try:
            yield
        finally:
            self._lock.release()

    # -- settings -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.processor.name

    @property
    def n_bins(self) -> int:
        return self.cfg.n_bins

    @property
    def latency_samples(self) -> int:
        """Algorithmic latency N + L H + (B - 1) H in samples."""
        return self.cfg.n_fft + (self.lookahead + self.block - 1) * self.cfg.hop

    @property
    def latency_ms(self) -> float:
        return 1000.0 * self.latency_samples / self.cfg.sample_rate

    @property
    def delay_samples(self) -> int:
        """Output index minus padded input index: L H."""
        return self.lookahead * self.cfg.hop

    @property
    def output_offset(self) -> int:
        """Output index minus offline signal index, in samples: offline sample s appears at output index
        s + output_offset = s + P + L H (P = cfg.pad, the STFT's front padding, plus a mel's own padding
        outside the STFT, engine.mel.MelConfig.pad)."""
        return self.cfg.pad + (self.mel.pad if self.mel is not None else 0) + self.delay_samples

    def describe(self) -> str:
        """One line: the method, its settings and the latency.

        Returns
        -------
        str
            For example "admm-l2 ...; look-ahead 3, block 1, latency 1792 samples = 81.3 ms".

        Examples
        --------
        >>> phasefold.Stream.open("rtpghi", lookahead=0).describe()
        '...look-ahead 0, block 1, latency 1024 samples = 46.4 ms'
        """
        return (
            f"{self.processor.describe()}; look-ahead {self.lookahead}, block {self.block}, "
            f"latency {self.latency_samples} samples = {self.latency_ms:.1f} ms"
        )

    # -- state ------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything: the next push is frame 0 of a new stream.

        Raises
        ------
        phasefold.engine.errors.InputError
            A call while another thread is inside this stream's push, flush or reset.

        Examples
        --------
        >>> stream = phasefold.Stream.open("fgla", lookahead=0)
        >>> _ = stream.push(np.ones((4, 513))), stream.flush()
        >>> stream.reset()
        >>> stream.stats.frames_in
        0
        """
        with self._in_use():
            self.processor.reset()
            self._pending_mag = np.zeros((self.block, self.processor.width))
            self._pending_phase = np.zeros((self.block, self.cfg.n_bins))
            self._pending_has_phase = False
            self._n_pending = 0
            self._finished = False
            self.stats = StreamStats(hop=self.cfg.hop, sample_rate=self.cfg.sample_rate)

    def _validate(self, frames) -> tuple[np.ndarray, np.ndarray | None]:
        if self.mel is not None:
            return mel_frames(frames, self.mel), None
        arr = number_array(frames, "frames", complex_ok=True)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2:
            raise InputError(
                f"frames must be [k, {self.n_bins}] or [{self.n_bins}], got shape {list(arr.shape)}"
            )
        if arr.shape[1] != self.n_bins:
            raise InputError(
                f"a frame has {arr.shape[1]} bins; this stream (n_fft {self.cfg.n_fft}) needs {self.n_bins}"
            )
        if not all_finite(arr):
            raise InputError(f"{int(np.count_nonzero(~np.isfinite(arr)))} frame values are NaN or infinite")
        if arr.dtype.kind == "c":
            if not getattr(self.processor, "accepts_phases", False):
                raise InputError(f"{self.name} takes magnitude frames only, not complex frames")
            return np.abs(arr) ** self.cfg.power, np.angle(arr)
        if arr.size and arr.min() < 0:
            raise InputError(
                f"{int(np.count_nonzero(arr < 0))} frame values are negative (magnitudes are >= 0)"
            )
        return np.asarray(arr, dtype=np.float64), None  # push copies the frames into its own buffer

    def push(self, frames) -> np.ndarray:
        """Feed frames; get back the samples they complete.

        Every frame is checked before any state changes: a frame that is refused leaves the stream exactly
        as it was.

        Parameters
        ----------
        frames : array_like
            [k, K] or one frame [K] of measurements r = |X|^d (K = n_fft / 2 + 1), non-negative and finite;
            complex frames for a method that takes phases (RTPGHI).

        Returns
        -------
        np.ndarray
            float32 samples: B H for each block the frames complete (H per frame), zeros while the stream
            fills its first ``output_offset`` samples.

        Raises
        ------
        phasefold.engine.errors.InputError
            Frames that are not numbers, of the wrong shape or number of bins, NaN, infinite or negative
            values, a stream already flushed, a method that returned NaN (the message names the frame), or
            a call while another thread is inside this stream's push, flush or reset.

        Examples
        --------
        >>> stream = phasefold.Stream.open("admm-l2", lookahead=0)
        >>> stream.push(np.ones((3, 513))).shape
        (768,)
        """
        with self._in_use():
            if self._finished:
                raise InputError("this stream was flushed; call reset() to start a new one")
            mags, phases = self._validate(frames)
            if mags.shape[0] == 0:
                return np.zeros(0, dtype=np.float32)
            if phases is not None and self._n_pending and not self._pending_has_phase:
                raise InputError("cannot mix complex and magnitude frames inside one block")
            out = []
            t0, c0 = time.perf_counter(), time.thread_time()
            for i in range(mags.shape[0]):
                self._pending_mag[self._n_pending] = mags[i]
                if phases is not None:
                    self._pending_phase[self._n_pending] = phases[i]
                    self._pending_has_phase = True
                self._n_pending += 1
                if self._n_pending == self.block:
                    out.append(self._run_block(self.stats.frames_in + i))
            self.stats.compute_s += time.perf_counter() - t0
            self.stats.cpu_s += time.thread_time() - c0
            self.stats.frames_in += mags.shape[0]
            if len(out) == 1:
                samples = out[0]
            else:
                samples = np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
            self.stats.samples_out += samples.size
            return samples

    def _run_block(self, last: int) -> np.ndarray:
        """Process the pending frames, the last of which is frame ``last`` of the stream."""
        b = self._n_pending
        phases = self._pending_phase[:b].copy() if self._pending_has_phase else None
        out = self.processor.process(self._pending_mag[:b].copy(), phases)
        self._n_pending = 0
        self._pending_has_phase = False
        if not all_finite(out):  # the message is built only when it is needed
            frames = f"frame {last}" if b == 1 else f"frames {last - b + 1} to {last}"
            self._check_output(out, f"at {frames} (largest magnitude {self._pending_mag[:b].max():.3g})")
        return out

    def _check_output(self, out: np.ndarray, where: str) -> None:
        if not all_finite(out):
            raise InputError(f"{self.name} returned NaN or infinite audio {where}; the stream stops there")

    def signal_samples(self) -> int:
        """The length of the signal the frames pushed so far are read as where none is given.

        Returns
        -------
        int
            The frames' span less the padding at both ends (engine.stft.StftConfig.n_samples: F H - P by
            phasefold's own padding, (F - 1) H centred; a mel stream: its mel's, MelConfig.n_samples).

        Examples
        --------
        >>> stream = phasefold.Stream.open("fgla", lookahead=0)
        >>> _ = stream.push(np.ones((10, 513)))
        >>> stream.signal_samples()  # F H - P = 10 * 256 - 768
        1792
        """
        frames = self.stats.frames_in
        return self.mel.n_samples(frames) if self.mel is not None else self.cfg.n_samples(frames)

    def flush(self, length: int | None = None) -> np.ndarray:
        """End the stream: return the samples it still holds, zeros past the signal's end.

        Past the signal's end the window holds the padding of the frames' span, which no frame pins: the
        overlap sum of squared windows goes to zero there (N / 2 samples past the last frame's centre with
        centred frames) and the least-squares estimate returned values thousands of times the signal's
        peak. The stream returns zeros from output index ``output_offset`` + ``length`` on.

        Parameters
        ----------
        length : int or None, default None
            The signal's length in samples where the caller knows it (the frames' offline signal); None:
            ``signal_samples()``, the length the frames are read as. By phasefold's own padding that is the
            longest signal with those frames, so no signal sample is lost; centred, the shortest ((F - 1) H,
            the last frame's centre): up to H - 1 samples of a longer signal come back as zeros, as a mel
            stream's do, where the frames pin them least (only the last frames' trailing halves reach them).

        Returns
        -------
        np.ndarray
            float32: the samples of a partial block, then the (L + N / H - 1) H samples held in the window,
            zeros from output index ``output_offset`` + ``length`` on (samples already returned by ``push``
            stay as they were). A second call returns nothing; ``reset()`` starts a new stream.

        Raises
        ------
        phasefold.engine.errors.InputError
            A ``length`` that is not a whole number from 1 or (a linear stream) that the frames pushed
            cannot hold, a method
            that returned NaN or infinite samples in the tail, or a call while another thread is inside this
            stream's push, flush or reset.

        Examples
        --------
        >>> stream = phasefold.Stream.open("admm-l2", lookahead=3)
        >>> _ = stream.push(np.ones((10, 513)))
        >>> stream.flush().shape  # (L + N / H - 1) H = (3 + 4 - 1) * 256
        (1536,)
        """
        with self._in_use():
            if self._finished:
                return np.zeros(0, dtype=np.float32)
            end = self.signal_samples() if length is None else self._signal_length(length)
            t0, c0 = time.perf_counter(), time.thread_time()
            parts = [self._run_block(self.stats.frames_in - 1)] if self._n_pending else []
            tail = self.processor.tail()
            self._check_output(tail, f"in the tail after frame {self.stats.frames_in - 1}")
            parts.append(tail)
            self.stats.compute_s += time.perf_counter() - t0
            self.stats.cpu_s += time.thread_time() - c0
            self._finished = True
            out = np.concatenate(parts)
            out[max(self.output_offset + end - self.stats.samples_out, 0) :] = 0.0  # past the signal's end
            self.stats.samples_out += out.size
            return out

    def _signal_length(self, length: object) -> int:
        """``flush``'s ``length`` checked: a whole number from 1; for a linear stream, one whose offline STFT
        has exactly the frames pushed (engine.stft.StftConfig.n_frames)."""
        n = whole(length, "length", 1)
        frames = self.stats.frames_in
        if self.mel is None and frames != self._frames_of(n):
            raise InputError(f"{frames} frames at hop {self.cfg.hop} cannot hold a signal of {n} samples")
        return n

    def _frames_of(self, n: int) -> int:
        try:
            return self.cfg.n_frames(n)
        except ValueError:  # shorter than one frame
            return 0


def mel_frames(frames, mel: MelConfig) -> np.ndarray:
    """Mel frames in the configuration's own layout and log scale (one frame [n_mels], or several as its
    arrays are laid out: [n_mels, k], or [k, n_mels] where its bands come last) as linear values [k, n_mels];
    InputError (engine.mel.linear_mel: the number of bands, the log scale, NaN) for frames that do not fit."""
    arr = number_array(frames, "mel frames")
    if arr.ndim == 1:
        arr = arr[None, :] if mel.bands_last else arr[:, None]
    if arr.ndim == 2 and arr.shape[0 if mel.bands_last else 1] == 0:
        return np.zeros((0, mel.n_mels))
    if arr.ndim != 2:
        raise InputError(f"mel frames must be one frame [{mel.n_mels}] or a 2-D block, not {list(arr.shape)}")
    return linear_mel(arr, mel, "mel frames")


def all_finite(a: np.ndarray) -> bool:
    """No NaN or infinity in ``a``: one sum first (they propagate into it), the element test only when the
    sum is not finite (a sum of large finite values can overflow)."""
    return cmath.isfinite(np.add.reduce(a, axis=None)) or bool(np.isfinite(a).all())
