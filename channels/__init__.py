"""Email in (IMAP) and out (SMTP), MIME parsing and threading, the outbox."""

from channels.ingest import FetchedMail, MailImporter
from channels.mail_batch import IngestResult
from channels.mime import ParsedMail, UnparseableMail, parse_message
from channels.outbox import OutboxWorker, PermanentFailure, TemporaryFailure
from channels.quarantine import QuarantineDesk
from channels.replies import ReplyDesk, ReplyDraft, SentReply

__all__ = [
    "FetchedMail",
    "IngestResult",
    "MailImporter",
    "OutboxWorker",
    "ParsedMail",
    "PermanentFailure",
    "QuarantineDesk",
    "ReplyDesk",
    "ReplyDraft",
    "SentReply",
    "TemporaryFailure",
    "UnparseableMail",
    "parse_message",
]
