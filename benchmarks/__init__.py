"""phasefold's benchmarks, run from the repository root as ``python -m benchmarks.NAME`` (``--help`` on each):

- classical_vs_librosa: the classical methods on the test split, and FGLA against librosa.griffinlim;
- fft_floor: the FFT bindings within reach of compiled code, and the FFT and array-operation floors of a step;
- gui_frame_interval: GUI frame intervals, RTF and simulated-device under-runs while the window streams;
- onnx_op_costs: the cost of one onnxruntime node on a window's arrays;
- quality_by_lookahead: every method through the streaming engine at look-aheads 0, 1, 3 (one table per L);
- rho_study: the ADMM penalty rho on the validation split;
- stream_models_quality: every streaming method at L = 0, 1, 3 (iteration sweeps), quality against
  compiled RTF with the Pareto front, and issue 14's checks;
- stream_profile: where a streaming step's time goes (engine, window step, compiled sections);
- stream_chaos: how far a streamed score moves under a perturbation far below float32 rounding, per backend;
- offline_memory: peak memory of long offline reconstructions, and blocks against the whole signal.
`phasefold bench` is the real-time-factor benchmark of every streaming method.
"""
