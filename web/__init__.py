"""gridcast web."""
