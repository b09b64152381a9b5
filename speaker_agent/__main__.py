"""`python -m speaker_agent`: the reference loudspeaker agent."""

import sys

from speaker_agent.main import main

sys.exit(main())
