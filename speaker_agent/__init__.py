"""The reference loudspeaker agent: pulls its schedule and clips from a gridcast hub, plays
them on time through a player command, keeps playing when the hub is away, and reports
every play.

Standard library and aiohttp only, and nothing of the hub: it installs alone on a
Raspberry Pi beside an amplifier (`pip install aiohttp`, copy this folder, `python -m
speaker_agent --hub URL --id ID --token T`).
"""

__version__ = "0.1.0"
