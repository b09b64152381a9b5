"""Safety Q&A: the knowledge base, text normalisation and search, unanswered questions.

Imports `hub` only; answers are plain text that a transport carries.
"""
