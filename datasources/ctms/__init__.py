"""The CTMS side: a Vault REST API client and the mapping between Vault records and the domain."""
