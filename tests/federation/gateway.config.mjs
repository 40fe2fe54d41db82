// Hive Gateway in front of the supergraph: every subgraph request carries the caller's own Authorization header,
// so each subgraph (ccgw first) authenticates and authorizes the caller, not the router.
export const gatewayConfig = {
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      const authorization = request.headers.get("authorization");
      return authorization ? { authorization } : {};
    },
  },
};
