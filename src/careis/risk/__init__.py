"""Risk profiling: scores for unplanned admission, frailty, and the case-finding register."""
