"""Seasonal safety campaigns: campaign files checked against the safety calendar (`files`),
when each part falls due (`plan`), where a campaign runs (`regions`, `states`: staff publish,
pause and resume it for their subtree), the scheduler's release pass that sends each part once
(`release`, `claims`, `slots`: chat posts through the outbox, loudspeaker slots into the
speakers' schedules), and what runs in an area on a day (`overview`: /campaign, the CLI's
preview).
"""
