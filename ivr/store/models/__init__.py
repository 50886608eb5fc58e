"""Every model, imported here so ``Base.metadata`` is complete for migrations and tests.

Models are split by domain, one small module each; add a module's import here when adding it.
"""

from ivr.store.base import Base
from ivr.store.models.auth import ApiToken, Role
from ivr.store.models.campaigns import (
    Attempt,
    Bulletin,
    Campaign,
    CampaignGroup,
    CampaignState,
    CampaignTarget,
    TargetState,
)
from ivr.store.models.coordinators import (
    BulletinSend,
    BulletinTranscription,
    Coordinator,
    CoordinatorEvent,
    CoordinatorGroup,
    ReplayConfirmation,
)
from ivr.store.models.members import Group, Member, Membership
from ivr.store.models.reports import Report, ReportAnswer, ReportDelivery, ReportEvent
from ivr.store.models.transcription import JobState, TranscriptionJobRow

__all__ = [
    "ApiToken",
    "Attempt",
    "Base",
    "Bulletin",
    "BulletinSend",
    "BulletinTranscription",
    "Campaign",
    "CampaignGroup",
    "CampaignState",
    "CampaignTarget",
    "Coordinator",
    "CoordinatorEvent",
    "CoordinatorGroup",
    "Group",
    "JobState",
    "Member",
    "Membership",
    "ReplayConfirmation",
    "Report",
    "ReportAnswer",
    "ReportDelivery",
    "ReportEvent",
    "Role",
    "TargetState",
    "TranscriptionJobRow",
]
