"""The gateway's own state (sqlmodel): connections, write intents, mirrors (the outbox), marks, audit."""
