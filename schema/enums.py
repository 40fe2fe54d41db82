"""The public enums, taken from the domain's."""

from enum import Enum

import strawberry

from domain import ActivityKind as _ActivityKind
from domain import ActivityStatus as _ActivityStatus
from domain import Channel as _Channel
from domain import SourceSystem as _SourceSystem
from domain import SyncState as _SyncState
from domain.permissions import Permission as _Permission

Channel = strawberry.enum(_Channel, description="Means of communication. One to one with the CTMS channel and "
                                                "the CRM call channel.")
ActivityStatus = strawberry.enum(_ActivityStatus, description="PLANNED: not completed (CRM Planned/Saved). "
                                                              "COMPLETED: completed (CRM Submitted).")
ActivityKind = strawberry.enum(_ActivityKind, description="CLINICAL: logged in the CTMS. MEDICAL: a CRM call sent "
                                                          "to the CTMS.")
SourceSystem = strawberry.enum(_SourceSystem)
SyncState = strawberry.enum(_SyncState, description="Where the mirror of an activity stands in one CRM org (or, for "
                                                    "a medical activity, in the CTMS).")
Permission = strawberry.enum(_Permission)


@strawberry.enum
class FieldKind(Enum):
    STANDARD = "STANDARD"
    CUSTOM = "CUSTOM"
