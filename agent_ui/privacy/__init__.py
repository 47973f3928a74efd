"""Privacy pages and API: a customer's export and erasure, the view log, the privacy policy
(masked roles, retention) with its dry run."""

from __future__ import annotations

from aiohttp import web

from agent_ui.privacy import (
    masking_setup,
    policy_views,
    subject_views,
    view_log_views,
    view_recording,
)


def setup(app: web.Application) -> None:
    subject_views.setup_routes(app)
    view_log_views.setup_routes(app)
    policy_views.setup_routes(app)
    view_recording.setup(app)
    masking_setup.setup(app)
