"""The public enums, taken from the domain's."""

from enum import Enum

import strawberry

from domain import ActivityKind as _ActivityKind
from domain import ActivityStatus as _ActivityStatus
from domain import Channel as _Channel
from domain import SourceSystem as _SourceSystem
from domain import SyncState as _SyncState
from domain.connections import ConnectionCheck as _ConnectionCheck
from domain.connections import CrmAuth as _CrmAuth
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
CrmAuth = strawberry.enum(_CrmAuth, description="How the gateway signs in to an org: the OAuth 2.0 client "
                                                "credentials, password or JWT bearer (RFC 7523) grant of the org's "
                                                "connected app.")
ConnectionCheck = strawberry.enum(_ConnectionCheck, description="What testConnection checks: the org answers, "
                                                                "accepts the credentials and offers the API version; "
                                                                "the identifier fields exist on each side.")


@strawberry.enum
class FieldKind(Enum):
    STANDARD = "STANDARD"
    CUSTOM = "CUSTOM"
