"""gridcast broadcasts."""
