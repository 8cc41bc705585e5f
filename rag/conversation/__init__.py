"""Conversation: follow-up questions completed from the turns before them."""
