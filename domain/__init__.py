"""The unified model and the seed's rules: channels, status, owner text, matching, validation. Pure, no I/O."""

from domain.channels import Channel, channel_from_ctms, channel_to_ctms
from domain.errors import UserError, ValidationFailed
from domain.matching import MatchOutcome, match_accounts
from domain.models import (
    Account,
    ActivityKind,
    ClinicalActivity,
    ContextKind,
    ContextRef,
    IntentStatus,
    JobState,
    MedicalActivity,
    Person,
    SourceSystem,
    Study,
    StudyCountry,
    StudyPersonnel,
    StudySite,
    SyncState,
    SyncStatus,
)
from domain.owner import owner_text
from domain.status import ActivityStatus, status_from_completed
from domain.validation import NewClinicalActivity, validate_new_activity, validate_update

__all__ = [
    "Account", "ActivityKind", "ActivityStatus", "Channel", "ClinicalActivity", "ContextKind", "ContextRef",
    "IntentStatus", "JobState", "MatchOutcome", "MedicalActivity", "NewClinicalActivity", "Person", "SourceSystem",
    "Study", "StudyCountry", "StudyPersonnel", "StudySite", "SyncState", "SyncStatus", "UserError",
    "ValidationFailed", "channel_from_ctms", "channel_to_ctms", "match_accounts", "owner_text", "status_from_completed",
    "validate_new_activity", "validate_update",
]
