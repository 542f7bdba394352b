"""The mail sandbox: an SMTP server that keeps what it receives, and a page listing it."""

from sandbox.mail.app import MailSandboxConfig, create_mail_sandbox, mail_sandbox_of

__all__ = ["MailSandboxConfig", "create_mail_sandbox", "mail_sandbox_of"]
