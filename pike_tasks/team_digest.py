"""One team's digest, for the summaries a team channel gets (Slack, Microsoft Teams).

Pure. A team channel's post is the manager's ``Digest`` restricted to that team, so the counts,
the new, resolved and due-soon rows and the overdue rows are the ones the manager's digest has
for it, and ``digest_view`` turns it into the same pre-formatted dict the channel renderers read
(``slack_blocks.team_message``, ``teams_card.team_card``). The workload is dropped: a channel is
read by more people than the manager, and the reassign lines name people.
"""

from __future__ import annotations

from dataclasses import replace

from pike_tasks.digest import Digest, digest_subject


def team_digest(digest: Digest, team_id: str, recipient: str | None = None) -> Digest:
    """``digest`` restricted to ``team_id`` (one of its teams).

    Args:
        digest: any digest that covers the team (from ``digest.build_digests``).
        team_id: the team.
        recipient: who the post goes to (a channel id or name); default the digest's recipient.

    Raises:
        ValueError: the digest does not cover ``team_id``.
    """
    if team_id not in digest.team_ids:
        raise ValueError(f"the digest of {digest.recipient} does not cover team {team_id}")
    name = digest.team_names[digest.team_ids.index(team_id)]
    rows = digest.overdue_rows[digest.overdue_rows["team_id"] == team_id].reset_index(drop=True)
    changes = digest.changes
    if changes is not None:
        changes = changes[changes["team_id"].astype(str) == team_id].reset_index(drop=True)
    soon = digest.due_soon_rows
    if soon is not None:
        soon = soon[soon["team_id"] == team_id].reset_index(drop=True)
    new = int((changes["change"] == "new").sum()) if changes is not None else None
    resolved = int((changes["change"] == "resolved").sum()) if changes is not None else None
    return replace(
        digest,
        recipient=recipient or digest.recipient,
        team_ids=(team_id,),
        team_names=(name,),
        overdue_rows=rows,
        team_summary=digest.team_summary[digest.team_summary["team_id"] == team_id].reset_index(drop=True),
        workload=digest.workload.iloc[0:0],
        overdue_count=len(rows),
        subject=digest_subject(digest.as_of, len(rows), (name,), new if digest.baseline_as_of else None,
                               resolved if digest.baseline_as_of else None),
        changes=changes,
        due_soon_rows=soon,
        page_anchors={k: v for k, v in digest.page_anchors.items() if k == team_id},
    )
