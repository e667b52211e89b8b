"""Domain logic of the IoT traffic pipeline: pure standard library, shipped as a Lambda layer."""
