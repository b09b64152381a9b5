"""gridcast content."""
