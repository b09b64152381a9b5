"""gridcast hub."""
