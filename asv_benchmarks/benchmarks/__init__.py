"""asv benchmarks of fastnn: kernels per backend (NumPy is the baseline), layers, training, start-up."""
