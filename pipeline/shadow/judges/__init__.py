"""One judge per stage: it calls both sides on each case and fills the run's rows for the stage's metrics,
grading with the referees only."""
