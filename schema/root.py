"""The schema: Query, Mutation, the concrete types behind the interfaces, and the extensions."""

from __future__ import annotations

from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache
from strawberry.extensions.max_aliases import create_validator as aliases_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

from schema.access import IntrospectionGuard
from schema.cost import CostBudget
from schema.errors import ErrorShaping, GatewaySchema
from schema.mutation import Mutation
from schema.one_mutation import OneMutation
from schema.query import Query
from schema.reads import KeptReads
from schema.subscription import Subscription
from schema.timing import OperationTiming
from schema.tracing import OperationSpan
from schema.types import (
    ClinicalActivity,
    Connection,
    MedicalActivity,
    Person,
    Study,
    StudyCountry,
    StudyPersonnel,
    StudySite,
)
from schema.validated import KeptValidation

# Built once: rule classes made per request would defeat the validation cache.
RULES = [depth_validator(12, None, None), aliases_validator(30), OneMutation]

# The concrete types reached only through interfaces, and the extensions; the federated subgraph shares both.
TYPES = [ClinicalActivity, MedicalActivity, Person, Study, StudyCountry, StudySite, StudyPersonnel, Connection]
EXTENSIONS = [
    OperationSpan,  # first: its span covers the others, and it ends after ErrorShaping has coded the errors
    OperationTiming,  # before ErrorShaping too, for the same reason: it records the outcome and error codes
    lambda: AddValidationRules(RULES),
    lambda: MaxTokensLimiter(5000),
    lambda: ParserCache(maxsize=256),
    lambda: KeptValidation(maxsize=256),
    IntrospectionGuard,
    CostBudget,
    KeptReads,
    ErrorShaping,
]

schema = GatewaySchema(query=Query, mutation=Mutation, subscription=Subscription, types=TYPES,
                       extensions=EXTENSIONS)

__all__ = ["schema", "EXTENSIONS", "TYPES", "GraphQLError"]
