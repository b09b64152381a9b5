"""The dashboard's one routes table: every page and action, in one place.

Pages are GETs; every change is a POST carrying the session's CSRF token (session.csrf_guard)
and answered with a redirect to the page that shows its result.
"""

from __future__ import annotations

from aiohttp import web

from web.dashboard import (
    auth,
    campaigns,
    hazards,
    knowledge,
    overview,
    recordings,
    speakers,
    warnings,
)

ID = r"{id:\d{1,12}}"

ROUTES = [
    web.get("/login", auth.login_page, name="login"),
    web.post("/login", auth.login),
    web.post("/logout", auth.logout, name="logout"),
    web.post("/lang", auth.language, name="lang"),
    web.get("/", overview.overview, name="overview"),
    # the hazard ledger
    web.get("/hazards", hazards.ledger_page, name="hazards"),
    web.get(r"/hazards/export.{fmt:(xlsx|csv)}", hazards.export, name="hazards_export"),
    web.get(f"/hazards/{ID}", hazards.hazard_page, name="hazard"),
    web.post(f"/hazards/{ID}/act", hazards.act_on),
    web.get(f"/hazards/{ID}/photo/{{kind:(report|evidence)}}", hazards.photo),
    # warnings
    web.get("/warnings", warnings.warnings_page, name="warnings"),
    web.post("/warnings", warnings.compose),
    web.get(f"/warnings/{ID}", warnings.warning_page, name="warning"),
    web.get(f"/warnings/{ID}/preview.mp3", warnings.preview_audio),
    web.post(f"/warnings/{ID}/{{step:(send|edit|discard|update|cancel)}}", warnings.decide),
    # seasonal campaigns
    web.get("/campaigns", campaigns.campaigns_page, name="campaigns"),
    web.get(r"/campaigns/{id:[a-z0-9-]{1,64}}", campaigns.campaign_page),
    web.get(r"/campaigns/{id:[a-z0-9-]{1,64}}/audio/{script:[a-z0-9-]{1,64}}.mp3", campaigns.audio),
    web.post(r"/campaigns/{id:[a-z0-9-]{1,64}}/{step:(publish|pause|resume)}", campaigns.change),
    # loudspeakers
    web.get("/speakers", speakers.speakers_page, name="speakers"),
    web.post("/speakers/announce", speakers.announce),
    # dialect recordings
    web.get("/recordings", recordings.recordings_page, name="recordings"),
    web.post("/recordings", recordings.upload),
    web.post("/recordings/requests", recordings.request_take),
    web.post(f"/recordings/{ID}/approve", recordings.approve),
    web.get(f"/recordings/{ID}/audio", recordings.listen),
    # questions the knowledge base could not answer
    web.get("/knowledge", knowledge.knowledge_page, name="knowledge"),
    web.get(f"/knowledge/{ID}", knowledge.question_page),
    web.post(f"/knowledge/{ID}/answer", knowledge.answer),
    web.post(f"/knowledge/{ID}/promote", knowledge.promote),
]
