"""SPEC assembly: the structured spec, its builder, its verifier (versioned rubric) and its optimizer."""
