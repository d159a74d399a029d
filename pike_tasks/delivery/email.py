"""The digest as an email: HTML (CSS inlined) and text parts that fit, the message, the SMTP channel.

Rendering is pure (``render_digest``: the view of ``delivery.view`` through the digest templates,
cut until the HTML passes no clipping point) and the assembled messages (``prepare_emails``);
``delivery.smtp`` sends them for the delivery engine. What the body says of the
attachment follows what is attached (``email_message.choose_attachment``): the CSV, the CSV
zipped, or nothing, and then where the stored CSV is. When the HTML would pass Gmail's clipping
size, the rest of the overdue list is cut first, keeping the most urgent tasks across all the
teams.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

from pike_tasks import rules
from pike_tasks.delivery.channel import Outbound
from pike_tasks.delivery.digest import CSV_NAME, Digest
from pike_tasks.delivery.view import Limits, digest_view
from pike_tasks.email_message import Attachment, address_file_stem, build_message, choose_attachment
from pike_tasks.mailer import attachment_max_bytes

HTML_LIMIT_BYTES = 100_000
# Headroom under Gmail's ~102 KB clipping point for transfer-encoding differences.
HTML_BUDGET_BYTES = 90_000


@dataclass(frozen=True)
class RenderedDigest:
    html: str
    text: str
    rows_per_team: int
    limits: Limits = field(default_factory=Limits)


def render_digest(
    digest: Digest,
    *,
    report_url: str | None = None,
    app_url_template: str | None = None,
    generated_at: str = "",
    preview_for: str | None = None,
    budget_bytes: int = HTML_BUDGET_BYTES,
    limits: Limits | None = None,
    attachment: Attachment | None = None,
    csv_url: str | None = None,
    team_pages: Mapping[str, str] | None = None,
    workload_url: str | None = None,
) -> RenderedDigest:
    """Render the HTML (CSS inlined) and text parts, cutting rows until the HTML part fits
    ``budget_bytes`` (Gmail clips messages over ~102 KB): the rest of the overdue list goes
    first (the most urgent across the teams stay), new overdue tasks last.

    ``attachment``, ``csv_url``, ``team_pages`` and ``workload_url``: see :func:`digest_view` (the words about
    the attachment follow what ``attachment`` says is attached)."""
    import css_inline

    from pike_tasks.render import make_environment

    env = make_environment()
    html_template = env.get_template("digest.html.j2")
    text_template = env.get_template("digest.txt.j2")
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)
    current = limits or Limits(rest_per_team=max(0, digest.max_rows_per_team))
    while True:
        view = digest_view(digest, report_url=report_url, app_url_template=app_url_template,
                           generated_at=generated_at, preview_for=preview_for, limits=current,
                           attachment=attachment, csv_url=csv_url, team_pages=team_pages,
                           workload_url=workload_url)
        html = inliner.inline(html_template.render(**view))
        smaller = current.shrunk()
        if len(html.encode("utf-8")) <= budget_bytes or smaller is None:
            break
        current = smaller
    text = text_template.render(**view)
    return RenderedDigest(html=html, text=text, rows_per_team=current.rest_per_team, limits=current)


@dataclass
class PreparedDigest:
    """One manager's assembled email and what summary.json says of it."""

    recipient: str
    subject: str
    overdue_count: int
    message: EmailMessage
    new_count: int = 0  # since the baseline, in the manager's teams
    resolved_count: int = 0
    has_baseline: bool = False  # without one, "unchanged" cannot be told
    attachment: str | None = None  # the attached file's name (overdue.csv or overdue.csv.zip); None: nothing
    attachment_bytes: int = 0

    def outbound(self) -> Outbound:
        """The delivery engine's item of this email."""
        return Outbound(
            recipient=self.recipient, payload=self.message,
            entry={"recipient": self.recipient, "subject": self.subject, "overdue_count": self.overdue_count,
                   "attachment": self.attachment, "attachment_bytes": self.attachment_bytes},
            overdue_count=self.overdue_count,
            changed=bool(self.new_count or self.resolved_count) if self.has_baseline else None,
            files={eml_name(self.recipient): self.message.as_bytes()},
            reference=str(self.message["Message-ID"]),
        )


def eml_name(recipient: str) -> str:
    """The dry run's file name of one digest, by its recipient (``platform.lead@example.com.eml``):
    the same every run, distinct for every distinct address (``email_message.address_file_stem``)."""
    return f"{address_file_stem(recipient)}.eml"


@dataclass(frozen=True)
class EmailRender:
    """What every manager's email of one run shares (links, sender, attachment limit)."""

    sender: str
    app_url_template: str | None = None
    report_url: str | None = None
    csv_url: str | None = None
    team_pages: Mapping[str, str] | None = None
    preview_to: str | None = None
    attachment_max: int | None = None
    workload_url: str | None = None  # the workload report of the same day and scope (a link, or where it is)


def prepare_emails(digests: Sequence[Digest], render: EmailRender,
                   on_each: Callable[[int], object] | None = None) -> list[PreparedDigest]:
    """Render and assemble every manager's message, its overdue.csv built in memory.

    The CSV is attached as it is up to ``attachment_max`` bytes (default
    ``PIKE_REPORTS_ATTACHMENT_MAX_BYTES``), else zipped if that fits, else not at all: the
    digest then says so and links (or locates) ``csv_url``, the overdue report's stored CSV.
    """
    from pike_tasks import csv_output

    generated_at = rules.generated_at()
    limit = render.attachment_max if render.attachment_max is not None else attachment_max_bytes()
    prepared = []
    for digest in digests:
        csv = csv_output.csv_bytes(digest.overdue_rows, rules.OVERDUE_COLUMNS)
        attachment = choose_attachment(csv, limit, csv_name=CSV_NAME, stamp=digest.as_of)
        rendered = render_digest(
            digest, report_url=render.report_url, app_url_template=render.app_url_template,
            generated_at=generated_at, preview_for=digest.recipient if render.preview_to else None,
            attachment=attachment, csv_url=render.csv_url, team_pages=render.team_pages,
            workload_url=render.workload_url,
        )
        message = build_message(
            digest, rendered.html, rendered.text, sender=render.sender, attachments=attachment.parts,
            preview=bool(render.preview_to), preview_to=render.preview_to,
        )
        prepared.append(PreparedDigest(
            digest.recipient, digest.subject, digest.overdue_count, message,
            new_count=digest.new_count, resolved_count=digest.resolved_count,
            has_baseline=digest.baseline_as_of is not None,
            attachment=attachment.filename, attachment_bytes=len(attachment.data),
        ))
        if on_each is not None:
            on_each(len(prepared))
    return prepared
