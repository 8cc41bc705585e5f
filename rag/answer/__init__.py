"""Stage 5, answers: spans scored, grouped and cited into the original text; quote lookup."""
