"""What each operation does: the timeline merge, matching, write-through, sync, admin. No GraphQL here."""
