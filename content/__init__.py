"""Data only: knowledge base, categories, templates, loudspeaker scripts, dialects, chimes,
CAP rules. Validated on load by the packages that read it, through `hub.content`; imports
nothing. A county's own `GRIDCAST_CONTENT_DIR` adds to or replaces these files.
"""
