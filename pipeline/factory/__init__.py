"""The factory's stages behind interfaces: alignment scorer, spec-builder, spec-verifier, spec-optimizer
and code generator, each a Protocol (`interfaces`) with a built-in implementation (`builtin`), an HTTP
client for its versioned JSON contract (`contracts`, `clients`), a registry choosing one per stage from
configuration (`routing`) and the conformance cases every implementation passes (`conformance`). The
HTTP apps serving the stages are at the edge, in `bot.stages`."""
