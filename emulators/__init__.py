"""Stand-ins for the CTMS (Vault REST) and CRM orgs (Salesforce REST); they import nothing of the gateway."""
