"""Quality of the service: answer a question set through the real pipeline, measure, gate and
report it (`python -m eval`); performance benchmarks in `bench`, model evaluation in `models`."""
