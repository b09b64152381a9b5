"""Village loudspeakers: the registry and its tokens (`registry`, `tokens`, `directory`),
recurring slots, quiet hours and staff's announcements (`slots`, `announcements`), clips by
content hash (`clips`), urgent warnings on the speakers (`urgent`), the schedule a speaker
pulls (`timing`, `schedule`), proof of play (`plays`) and monitoring (`monitoring`).

A speaker pulls: everything it plays is a row here and a file named by its SHA-256, rendered
ahead by the scheduler or when staff announce, never while a speaker waits for an answer.
"""
