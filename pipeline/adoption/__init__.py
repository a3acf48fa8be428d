"""The line adopting new versions of its own stages: which implementation serves each stage
(`line/stages.yaml`), routing builds to it with a safe fallback, and what its live calls say."""
