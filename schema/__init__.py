"""The GraphQL surface: strawberry types, inputs, enums, the root Query and Mutation. Thin."""
