"""A project's labeling guide: admins edit it, any member may propose an edit for an
admin to accept or decline, and every version is kept as a revision so a change can
be seen, credited and undone."""
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from .errors import Conflict, InvalidInput, LabelerError
from .events import publish_on_commit
from .guide_render import render
from .models import Guide, GuideProposal, GuideRevision, Membership, Project
from .permissions import has_role

__all__ = [
    "MAX_BODY", "MAX_NOTE", "MAX_OPEN_PROPOSALS", "Decision", "GuideNotFound", "accept", "current_guide",
    "decline", "edit", "propose", "proposal_for", "proposals_for", "render", "restore", "revision_of",
    "revisions_of",
]

MAX_BODY = 200_000
MAX_NOTE = 500
# Per author: proposals wait for an admin, so one member cannot bury the others'.
MAX_OPEN_PROPOSALS = 20


class GuideNotFound(LabelerError):
    status_code = 404
    code = "not_found"


@dataclass
class Decision:
    """An admin's answer to a proposal. `stale`: the guide had moved on from the version
    the proposal was written against, so accepting it replaced those later changes."""

    proposal: GuideProposal
    guide: Guide
    stale: bool = False
    revision: GuideRevision | None = None


def _checked_text(value, name: str) -> None:
    try:
        value.encode()
    except UnicodeEncodeError:
        raise InvalidInput(f"`{name}` holds characters that are not valid Unicode.") from None


def _checked_body(body) -> str:
    if not isinstance(body, str):
        raise InvalidInput("`body` must be the guide's text (Markdown).")
    _checked_text(body, "body")
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    if len(body) > MAX_BODY:
        raise InvalidInput(
            f"The guide is {len(body):,} characters; the limit is {MAX_BODY:,}. "
            "Shorten it, or show long examples as images."
        )
    return body


def _checked_note(note, name: str = "note") -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise InvalidInput(f"`{name}` must be text.")
    _checked_text(note, name)
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"Keep the {name} under {MAX_NOTE} characters (it has {len(note):,}).")
    return note


def current_guide(project: Project) -> Guide:
    """The guide as it stands; an unsaved empty one (version 0) before the first edit."""
    return Guide.objects.filter(project=project).select_related("updated_by").first() or Guide(project=project)


def _locked_guide(project: Project) -> Guide:
    """Call inside a transaction: the row is locked so two writers get consecutive versions."""
    guide, _ = Guide.objects.get_or_create(project=project)
    return Guide.objects.select_for_update().get(pk=guide.pk)


def _new_version(guide: Guide, body: str, author: User | None, note: str,
                 proposal: GuideProposal | None = None) -> GuideRevision:
    guide.version += 1
    guide.body = body
    guide.updated_by = author
    guide.save()
    revision = GuideRevision.objects.create(guide=guide, version=guide.version, body=body, author=author,
                                            note=note, proposal=proposal)
    publish_on_commit(guide.project_id, "guide.changed", version=guide.version)
    return revision


def edit(project: Project, admin: User, body, note="", base_version: int | None = None) -> Guide:
    """Save a new version. `base_version`, when given, is the version the editor started
    from: if another edit landed since, nothing is saved (409) so it is not overwritten
    unseen. Saving the text the guide already has changes nothing."""
    body, note = _checked_body(body), _checked_note(note)
    with transaction.atomic():
        guide = _locked_guide(project)
        if base_version is not None and base_version != guide.version:
            raise Conflict(
                f"The guide changed while you edited it (you started from version {base_version}, "
                f"it is now version {guide.version}). Reload it and apply your edit again.",
                version=guide.version,
            )
        if body != guide.body:
            _new_version(guide, body, admin, note)
    return guide


def propose(project: Project, user: User, body, note="") -> GuideProposal:
    """Any member suggests a new text; it waits, recorded against today's version."""
    body, note = _checked_body(body), _checked_note(note)
    with transaction.atomic():
        guide = _locked_guide(project)
        if body == guide.body:
            raise InvalidInput("The proposal is the same as the guide; change something first.")
        waiting = GuideProposal.objects.filter(guide=guide, author=user, status=GuideProposal.Status.OPEN).count()
        if waiting >= MAX_OPEN_PROPOSALS:
            raise Conflict(f"You have {waiting} proposals waiting for an admin; the limit is {MAX_OPEN_PROPOSALS}. "
                           "Wait for some to be decided.")
        proposal = GuideProposal.objects.create(guide=guide, author=user, body=body, note=note,
                                                base_version=guide.version)
    publish_on_commit(project.pk, "guide.proposal", proposal=proposal.pk, status=proposal.status)
    return proposal


def _locked_proposal(guide: Guide, proposal_id: int) -> GuideProposal:
    proposal = GuideProposal.objects.select_for_update().filter(pk=proposal_id, guide=guide).first()
    if proposal is None:
        raise GuideNotFound(f"No proposal {proposal_id} for this project's guide.", proposal=proposal_id)
    return proposal


def _refuse_other_decision(proposal: GuideProposal, wanted: str) -> None:
    if proposal.status != wanted:
        raise Conflict(f"Proposal {proposal.pk} was already {proposal.status}; it cannot be {wanted} now.",
                       status=proposal.status)


def _decide(guide: Guide, proposal: GuideProposal, admin: User, status: str, reason: str = "") -> None:
    proposal.status = status
    proposal.decided_by = admin
    proposal.decided_at = timezone.now()
    proposal.decline_reason = reason
    proposal.save(update_fields=["status", "decided_by", "decided_at", "decline_reason"])
    publish_on_commit(guide.project_id, "guide.proposal", proposal=proposal.pk, status=status)


def accept(project: Project, admin: User, proposal_id: int) -> Decision:
    """The proposal becomes the guide as a new version credited to its author. Accepting
    again returns the same decision; accepting a declined proposal is a conflict."""
    accepted = GuideProposal.Status.ACCEPTED
    with transaction.atomic():
        guide = _locked_guide(project)
        proposal = _locked_proposal(guide, proposal_id)
        if proposal.status != GuideProposal.Status.OPEN:
            _refuse_other_decision(proposal, accepted)
            revision = GuideRevision.objects.filter(guide=guide, proposal=proposal).first()
            stale = revision is not None and revision.version - 1 != proposal.base_version
            return Decision(proposal, guide, stale=stale, revision=revision)
        stale = guide.version != proposal.base_version
        revision = _new_version(guide, proposal.body, proposal.author, proposal.note, proposal=proposal)
        _decide(guide, proposal, admin, accepted)
    return Decision(proposal, guide, stale=stale, revision=revision)


def decline(project: Project, admin: User, proposal_id: int, reason="") -> Decision:
    """The guide stays as it is. Declining again returns the same decision; declining an
    accepted proposal is a conflict (restore an earlier version to undo it instead).
    The reason is kept on the proposal, for its author to read."""
    reason = _checked_note(reason, "reason") or ""
    declined = GuideProposal.Status.DECLINED
    with transaction.atomic():
        guide = _locked_guide(project)
        proposal = _locked_proposal(guide, proposal_id)
        if proposal.status != GuideProposal.Status.OPEN:
            _refuse_other_decision(proposal, declined)
        else:
            _decide(guide, proposal, admin, declined, reason)
    return Decision(proposal, guide)


def restore(project: Project, admin: User, version: int, note="") -> Guide:
    """An earlier version's text becomes the guide again, as a new version, so the
    versions in between stay in the history."""
    note = _checked_note(note) or f"Restored version {version}."
    with transaction.atomic():
        guide = _locked_guide(project)
        old = GuideRevision.objects.filter(guide=guide, version=version).first()
        if old is None:
            raise GuideNotFound(f"The guide has no version {version}.", version=version)
        if old.body != guide.body:
            _new_version(guide, old.body, admin, note)
    return guide


def revisions_of(project: Project) -> QuerySet[GuideRevision]:
    """Newest first."""
    return GuideRevision.objects.filter(guide__project=project).select_related("author", "guide").order_by("-version")


def revision_of(project: Project, version: int) -> GuideRevision:
    revision = revisions_of(project).filter(version=version).first()
    if revision is None:
        raise GuideNotFound(f"The guide has no version {version}.", version=version)
    return revision


def proposals_for(project: Project, user: User, role: str) -> QuerySet[GuideProposal]:
    """Reviewers and admins see every proposal; annotators only their own. Each carries
    `accepted_as`, the version it became, when it was accepted."""
    became = GuideRevision.objects.filter(proposal=OuterRef("pk")).values("version")[:1]
    proposals = (
        GuideProposal.objects.filter(guide__project=project).select_related("author", "decided_by", "guide")
        .annotate(accepted_as=Subquery(became))
    )
    if not has_role(role, Membership.Role.REVIEWER):
        proposals = proposals.filter(author=user)
    return proposals


def proposal_for(project: Project, user: User, role: str, proposal_id: int) -> GuideProposal:
    proposal = proposals_for(project, user, role).filter(pk=proposal_id).first()
    if proposal is None:
        raise GuideNotFound(f"No proposal {proposal_id} that you can see.", proposal=proposal_id)
    return proposal
