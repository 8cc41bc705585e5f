"""Text utilities shared by every stage: scripts, tokens, names, and English↔Chinese words."""
