"""Code generation: a structured Spec becomes a FastAPI service with its tests, Dockerfile and manifest."""
