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
from ivr.store.models.members import Group, Member, Membership

__all__ = [
    "ApiToken",
    "Attempt",
    "Base",
    "Bulletin",
    "Campaign",
    "CampaignGroup",
    "CampaignState",
    "CampaignTarget",
    "Group",
    "Member",
    "Membership",
    "Role",
    "TargetState",
]
