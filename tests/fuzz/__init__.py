"""The fuzz suite (issue 15): every input table and every hand-written file kind,
attacked by Hypothesis and by hand-written cases; see docs/data-model.md."""
