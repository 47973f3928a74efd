"""The web layer: console pages, REST API, live WebSocket — one sub-package per feature.

``agent_ui.app.create_app`` composes the features (see its docstring for the layout and the
extension points). Shared pieces are in ``agent_ui.base``: ``identity.actor_of`` /
``signed_in``, ``rendering.render``, ``inputs.read_json`` / ``read_form`` (caps in
``input_caps``), ``keys`` (typed app keys), ``services.WebServices`` (what handlers may
call). Live updates: ``agent_ui.live.hub.LiveHub``.

This package and ``agent_ui.base`` stay import-light: ``config.settings`` reads
``agent_ui.base.settings``.
"""
