"""The web layer: console pages, REST API, live WebSocket.

Public surface (import from the modules; this package stays import-light because
``config.settings`` reads ``agent_ui.base.settings``): ``agent_ui.app.create_app`` and its
extension points, ``agent_ui.base.identity.actor_of`` / ``signed_in``, ``agent_ui.base.rendering.render``,
``agent_ui.base.inputs.read_json`` / ``read_form`` (caps in ``agent_ui.base.input_caps``), ``agent_ui.base.keys`` (typed app keys), ``agent_ui.live.hub.LiveHub``.
"""
