"""The one place models are loaded (lazily, once) and converted from their packages."""
