"""CTI: the Asterisk AMI link, call tracking, screen-pops, call recording and call control."""

from cti.control import CallControl, CommandResult
from cti.events import (
    AgentStateChanged,
    CallAbandoned,
    CallAgentLeft,
    CallAnswered,
    CallEnded,
    CallPanel,
    CallRinging,
    ScreenPopShown,
    ScreenPopWithdrawn,
)
from cti.service import CtiService

__all__ = [
    "AgentStateChanged",
    "CallAbandoned",
    "CallAgentLeft",
    "CallAnswered",
    "CallControl",
    "CallEnded",
    "CallPanel",
    "CallRinging",
    "CommandResult",
    "CtiService",
    "ScreenPopShown",
    "ScreenPopWithdrawn",
]
