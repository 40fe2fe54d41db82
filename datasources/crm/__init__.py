"""The CRM side: a Salesforce REST API client and the mapping between Veeva CRM records and the domain."""
