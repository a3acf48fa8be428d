"""What this build of the fixture does; tests write other versions of this file."""

GREETING = "hello"
HEALTHY = True
