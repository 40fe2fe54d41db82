"""How each side is reached: the CTMS and CRM clients with their mapping adapters, the store, the loaders."""
