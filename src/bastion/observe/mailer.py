"""Send a digest over SMTP: STARTTLS, implicit TLS or (loopback only) plain.

The user name and password come from the environment variables the config
names, never from the file. Nothing here knows what a digest says.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage

from bastion.config_observe import DigestConfig


class MailError(RuntimeError):
    pass


def build_message(cfg: DigestConfig, subject: str, text: str, html: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(cfg.to)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def send_mail(cfg: DigestConfig, msg: EmailMessage, *, timeout_s: float = 20.0) -> None:
    if not cfg.to:
        raise MailError("[observe.digest] to is empty: nobody to send the digest to")
    user = os.environ.get(cfg.user_env)
    password = os.environ.get(cfg.password_env)
    context = ssl.create_default_context(cafile=cfg.ca_file)
    try:
        if cfg.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                cfg.smtp_host, cfg.smtp_port, timeout=timeout_s, context=context
            )
        else:
            smtp = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=timeout_s)
        with smtp:
            if cfg.security == "starttls":
                smtp.starttls(context=context)
            if user and password:
                smtp.login(user, password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(
            f"SMTP {cfg.smtp_host}:{cfg.smtp_port} ({cfg.security}): {type(exc).__name__}: {exc}"
        ) from None
