"""gridcast bot."""
