"""Live resource use per sandbox: samples from the runtime, stored by the metrics sampler
(backend/engines/metrics_sampler.py), read back as charts and sums."""
