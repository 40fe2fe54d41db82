"""SOQL for the CRM stand-in: tokens, a parser to a small syntax tree, and a compiler to SQL over the org's tables."""

from .nodes import Query
from .parser import parse
from .results import SoqlResult, run

__all__ = ["Query", "parse", "run", "SoqlResult"]
