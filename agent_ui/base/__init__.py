"""What every feature of the web layer shares: rendering and the page layout, languages,
who is asking (sessions, API tokens, CSRF), reading input safely, error pages, security
headers, metrics and the typed app keys.

Import-light on purpose (``config.settings`` reads ``agent_ui.base.settings``): import
from the modules, not from here.
"""
